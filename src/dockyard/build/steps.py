"""The filesystem-changing steps: RUN, COPY/ADD and WORKDIR.

Each computes its cache key first (parent key, instruction, content digests of
what it reads), returns the cached state on a hit, and otherwise changes an
active snapshot (:meth:`Builder.active`) and commits it (:meth:`Builder.commit`).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import posixpath
import stat
import tempfile
from typing import TYPE_CHECKING, Any

from dockyard.build import instructions as ins
from dockyard.build.cache import step_key
from dockyard.build.config import apply
from dockyard.build.copier import CopyOptions, Source, copy_sources, normalize_dest
from dockyard.build.errors import StepFailed
from dockyard.build.executor import describe
from dockyard.build.rootfs import chown_identity, mkdir_all, resolve_in_root
from dockyard.build.stages import Step
from dockyard.build.stale import scratch_prefix
from dockyard.build.state import State
from dockyard.errors import DigestMismatch, InvalidArgument, NotFound

if TYPE_CHECKING:
    from dockyard.build.executor import Builder


# --- RUN ------------------------------------------------------------------------------

def run_argv(i: ins.Run, shell: tuple[str, ...]) -> list[str]:
    if not i.heredocs or not i.command.shell:
        return list(i.command.argv(shell))
    text = i.command.args[0] if i.command.args else ""
    if len(i.heredocs) == 1 and text.strip().lstrip("<-").strip("'\"") == i.heredocs[0].name:
        return [*shell, i.heredocs[0].content]   # RUN <<EOF: the document is the script
    # otherwise the shell gets the documents inline after the command (sh reads them)
    for doc in i.heredocs:
        text += "\n" + doc.content + ("" if doc.content.endswith("\n") else "\n") + doc.name
    return [*shell, text]


def run_env(state: State, step: Step) -> list[str]:
    keys = {e.split("=", 1)[0] for e in state.config.env}
    return [*state.config.env, *(f"{k}={v}" for k, v in step.args if k not in keys)]


def _created_by(argv: list[str], args: tuple[tuple[str, str], ...]) -> str:
    text = " ".join(argv)
    if args:
        return f"|{len(args)} " + " ".join(f"{k}={v}" for k, v in args) + " " + text
    return text


def run_step(b: Builder, state: State, step: Step) -> State:
    from dockyard.build.runner import RunRequest, check_network, run_container

    i = step.instruction
    assert isinstance(i, ins.Run)
    argv = run_argv(i, state.config.effective_shell)
    network = check_network(i.network if i.network != "default" else b.opts.network)
    if i.security not in ("sandbox", ""):
        raise InvalidArgument(f"RUN --security={i.security} is not supported")
    mount_digests = [_mount_digest(b, m) for m in i.mounts]
    key = step_key(state.key, "RUN", argv, list(step.args), describe(i), network,
                   mount_digests)
    got = b.hit(key)
    if got is not None:
        return got
    state_root = str(b.exec_root / "build" / "runtime")
    with b.active(state) as (snap_key, rootfs, bundle), contextlib.ExitStack() as stack:
        mounts = [_oci_mount(b, m, bundle, stack, rootfs, state) for m in i.mounts]
        env = run_env(state, step)
        for m in i.mounts:
            if m.type == "secret" and m.env:
                value = _secret_value(b, m)
                if value is not None:
                    env.append(f"{m.env}={value}")
        req = RunRequest(argv, env, state.config.user, state.config.working_dir or "/",
                         network, [x for x in mounts if x is not None])
        run_id = snap_key.removeprefix("build-")[:12]
        b.say(" ---> Running in " + run_id)
        b.runs += 1
        result, points = run_container(bundle, state_root, req,
                                       lambda line: b.emit({"stream": line}))
        _remove_placeholders(rootfs, points.created)
        if result.exit_code != 0:
            raise StepFailed(" ".join(argv), result.exit_code, result.tail,
                             f"{i.loc.filename}:{i.loc.line}")
        b.say(f"Removing intermediate container {run_id}")
    upper = b.upperdir(snap_key, state)
    if upper is not None:
        _drop_copied_up(upper, points.parents)
    return b.commit(state, snap_key, key, state.config, _created_by(argv, step.args))


def _remove_placeholders(rootfs: str, created: list[str]) -> None:
    """Remove mount points made for the run (deepest first) if still empty; in the
    merged view an entry only the upperdir holds goes away without a whiteout."""
    for path in sorted(created, key=lambda p: p.count("/"), reverse=True):
        host = resolve_in_root(rootfs, path, follow_last=False)
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            continue
        with contextlib.suppress(OSError):
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(host)
            elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
                os.unlink(host)


def _drop_copied_up(upper: str, parents: dict[str, tuple[int, int, int]]) -> None:
    """Remove from the upperdir the directories overlay copied up only because a
    mount point was made in them, when the run left them empty and unchanged (no
    entry, no whiteout, not opaque, same mode and owner): they are not changes."""
    for rel in sorted(parents, key=lambda p: p.count("/"), reverse=True):
        path = os.path.join(upper, rel)
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or os.listdir(path):
                continue
            if "trusted.overlay.opaque" in os.listxattr(path, follow_symlinks=False):
                continue
        except OSError:
            continue
        if (st.st_mode, st.st_uid, st.st_gid) == parents[rel]:
            with contextlib.suppress(OSError):
                os.rmdir(path)


def _secret_value(b: Builder, m: ins.Mount) -> str | None:
    sid = m.id or (posixpath.basename(m.target) if m.target else "")
    path = b.opts.secrets.get(sid)
    if path is None:
        if m.required:
            raise NotFound(f"secret {sid} not found (pass --secret id={sid},src=FILE)")
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _mount_digest(b: Builder, m: ins.Mount) -> str:
    """What a bind mount from the context contributes to the key (its content)."""
    if m.type != "bind":
        return repr(m)
    if m.from_:   # what the other stage or image holds: its state's key
        return repr(m) + _from_state(b, m.from_).key
    assert b.ctx is not None
    src = m.source or "."
    return repr(m) + tree_digest(b, [(b.ctx.resolve(src), src)])


def _oci_mount(b: Builder, m: ins.Mount, bundle: str, stack: contextlib.ExitStack,
               rootfs: str, state: State) -> dict | None:
    from dockyard.build.runner import oci_mount_for, tmpfs_mount

    if m.type == "tmpfs":
        return tmpfs_mount(m)
    if m.type == "cache":
        cid = hashlib.sha256((m.id or m.target or "").encode()).hexdigest()[:32]
        where = b.svc.root / "build" / "cache-mounts" / cid
        if not where.exists():
            where.mkdir(parents=True, mode=0o755)
            os.chown(where, m.uid or 0, m.gid or 0)
            os.chmod(where, m.mode if m.mode is not None else 0o755)
        return {"destination": m.target, "type": "bind", "source": str(where),
                "options": ["rbind", "ro" if m.readonly else "rw"], "_is_dir": True}
    if m.type == "secret":
        if m.env and not m.target:
            return None
        sid = m.id or posixpath.basename(m.target or "")
        path = b.opts.secrets.get(sid)
        if path is None:
            if m.required:
                raise NotFound(f"secret {sid} not found (pass --secret id={sid},src=FILE)")
            return None
        # a private copy with the mount's owner and mode (0400 by default)
        tmp = os.path.join(bundle, f"secret-{hashlib.sha256(sid.encode()).hexdigest()[:12]}")
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            dst.write(src.read())
        os.chown(tmp, m.uid or 0, m.gid or 0)
        os.chmod(tmp, m.mode if m.mode is not None else 0o400)
        return {"destination": m.target, "type": "bind", "source": tmp,
                "options": ["rbind", "ro"], "_is_dir": False}
    if m.type == "bind":
        if m.from_:
            src_state = _from_state(b, m.from_)
            root = stack.enter_context(b.view(src_state))
            host = resolve_in_root(root, m.source or "/")
        else:
            assert b.ctx is not None
            host = b.ctx.resolve(m.source or ".")
        if not os.path.exists(host):
            raise NotFound(f"RUN --mount source {m.source!r} not found")
        is_dir = os.path.isdir(host)
        if not m.readonly:
            # writes to a rw bind are thrown away (docker's rule): bind a copy
            copy = os.path.join(bundle, "bind-" + hashlib.sha256(host.encode()).hexdigest()[:8])
            import shutil

            if is_dir:
                shutil.copytree(host, copy, symlinks=True)
            else:
                shutil.copy2(host, copy)
            host = copy
        return oci_mount_for(m, host, is_dir)
    raise InvalidArgument(f"RUN --mount=type={m.type} is not supported by this builder")


def _from_state(b: Builder, name: str) -> State:
    index = b.stage_names.get(name.lower())
    if index is None and name.isdigit():
        index = int(name)
    if index is not None and index in b.results:
        return b.results[index]
    return _image_state(b, name)


def _image_state(b: Builder, name: str) -> State:
    from dockyard.build.config import ImageConfigState

    rec, _raw = b.base(name)
    from dockyard.build.state import Layer
    from dockyard.image.unpack import layer_specs

    specs = layer_specs(b.store, rec)
    layers = tuple(Layer(str(s.blob), s.media_type, b.store.content.info(s.blob).size,
                         str(s.diff_id)) for s in specs)
    return State(step_key("image", str(rec.id)), ImageConfigState(), layers,
                 image_id=str(rec.id))


# --- content digests ---------------------------------------------------------------------

def tree_digest(b: Builder, roots: list[tuple[str, str]],
                excluded=None) -> str:
    """sha256 over (path, type, mode, size, content or link) of each root's tree;
    mtimes and owners never count."""
    h = hashlib.sha256()
    for host, rel in roots:
        h.update(f"root {rel}\n".encode())
        st = os.stat(host)
        if not stat.S_ISDIR(st.st_mode):
            _entry_digest(b, h, host, "", st)
            continue
        for top, dirs, files in os.walk(host):
            dirs.sort()
            sub = os.path.relpath(top, host)
            sub = "" if sub == "." else sub
            keep = []
            for d in dirs:
                r = f"{sub}/{d}" if sub else d
                full = os.path.join(top, d)
                dst = os.lstat(full)
                if stat.S_ISLNK(dst.st_mode):
                    _entry_digest(b, h, full, r, dst)
                    continue
                keep.append(d)
                if excluded is None or not excluded(_join(rel, r)):
                    h.update(f"d {r} {stat.S_IMODE(dst.st_mode):o}\n".encode())
            dirs[:] = keep
            for name in sorted(files):
                r = f"{sub}/{name}" if sub else name
                if excluded is not None and excluded(_join(rel, r)):
                    continue
                full = os.path.join(top, name)
                _entry_digest(b, h, full, r, os.lstat(full))
    return h.hexdigest()


def _join(rel: str, r: str) -> str:
    return r if rel in ("", ".") else f"{rel.strip('/')}/{r}"


def _entry_digest(b: Builder, h: Any, host: str, rel: str, st: os.stat_result) -> None:
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        h.update(f"l {rel} {os.readlink(host)}\n".encode())
    elif stat.S_ISREG(mode):
        if b.opts.memo_hashes:
            digest = b.cache.file_digest(host, st)
        else:
            fh = hashlib.sha256()
            with open(host, "rb") as f:
                while chunk := f.read(1 << 20):
                    fh.update(chunk)
            digest = fh.hexdigest()
        h.update(f"f {rel} {stat.S_IMODE(mode):o} {st.st_size} {digest}\n".encode())
    else:
        h.update(f"o {rel} {stat.S_IFMT(mode):o}\n".encode())


# --- COPY / ADD ----------------------------------------------------------------------------

def _parse_chmod(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text, 8)
    except ValueError:
        raise InvalidArgument(f"invalid --chmod={text}: only octal modes are supported"
                              ) from None
    if value > 0o7777:
        raise InvalidArgument(f"invalid --chmod={text}")
    return value


def _context_sources(b: Builder, patterns: tuple[str, ...]) -> list[Source]:
    assert b.ctx is not None
    out: list[Source] = []
    for pattern in patterns:
        for rel in b.ctx.glob(pattern):
            host = b.ctx.resolve(rel)
            out.append(Source(host, posixpath.basename(rel.rstrip("/")) or ".", rel))
    return out


def _rootfs_glob(root: str, pattern: str) -> list[str]:
    """Image paths in ``root`` a COPY --from source names (wildcards per segment)."""
    norm = posixpath.normpath("/" + pattern)
    if not any(c in norm for c in "*?["):
        if not os.path.lexists(resolve_in_root(root, norm)):
            raise NotFound(f"COPY --from: {pattern}: no such file or directory")
        return [norm]
    found = ["/"]
    for part in [p for p in norm.split("/") if p]:
        nxt = []
        for base in found:
            host = resolve_in_root(root, base)
            if not os.path.isdir(host):
                continue
            if any(c in part for c in "*?["):
                nxt += [posixpath.join(base, n) for n in sorted(os.listdir(host))
                        if fnmatch.fnmatchcase(n, part)]
            elif os.path.lexists(os.path.join(host, part)):
                nxt.append(posixpath.join(base, part))
        found = nxt
    if not found:
        raise NotFound(f"COPY --from: {pattern}: no source files were specified")
    return found


def _download(b: Builder, url: str, checksum: str | None, tmpdir: str) -> Source:
    import email.utils
    import urllib.parse
    import urllib.request

    name = posixpath.basename(urllib.parse.urlparse(url).path)
    path = os.path.join(tmpdir, "download")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=120) as resp, open(path, "wb") as f:
            if resp.status >= 400:
                raise NotFound(f"ADD {url}: HTTP {resp.status}")
            while chunk := resp.read(1 << 20):
                h.update(chunk)
                f.write(chunk)
            modified = resp.headers.get("Last-Modified")
    except OSError as e:
        raise NotFound(f"ADD {url}: {e}") from None
    if checksum:
        algo, _, want = checksum.partition(":")
        if algo != "sha256" or not want:
            raise InvalidArgument(f"ADD --checksum={checksum}: only sha256:<hex> is "
                                  "supported")
        if want != h.hexdigest():
            raise DigestMismatch(f"ADD {url}: digest mismatch: expected {checksum}, "
                                 f"got sha256:{h.hexdigest()}")
    os.chmod(path, 0o600)
    if modified:
        with contextlib.suppress(TypeError, ValueError):
            t = email.utils.parsedate_to_datetime(modified).timestamp()
            os.utime(path, (t, t))
    return Source(path, name or "download", "")


def copy_step(b: Builder, state: State, step: Step, results: dict) -> State:
    i = step.instruction
    assert isinstance(i, ins.Copy | ins.Add)
    is_add = isinstance(i, ins.Add)
    kind = "ADD" if is_add else "COPY"
    dest, dest_is_dir = normalize_dest(i.dest, state.config.working_dir)
    chmod = _parse_chmod(i.chmod)
    if getattr(i, "parents", False):
        raise InvalidArgument("COPY --parents is not supported by this builder")
    excluded = _excluder(b, i.exclude)
    from_stage = getattr(i, "from_stage", None)
    from_image = getattr(i, "from_", None) if from_stage is None else None
    with tempfile.TemporaryDirectory(prefix=scratch_prefix("add"),
                                     dir=b.exec_root / "build") as tmp:
        heredoc_sources = _heredoc_sources(i, tmp)
        urls = [s for s in i.sources if "://" in s] if is_add else []
        locals_ = [s for s in i.sources if "://" not in s and not s.startswith("<<")]
        if from_stage is not None or from_image:
            src_state = results[from_stage] if from_stage is not None \
                else _image_state(b, from_image or "")
            content = f"state {src_state.key} {list(locals_)}"
        else:
            srcs = _context_sources(b, tuple(locals_))
            assert b.ctx is not None
            content = tree_digest(b, [(s.host, s.rel) for s in srcs], excluded=excluded)
        downloaded = [_download(b, u, getattr(i, "checksum", None), tmp) for u in urls]
        extra = [tree_digest(b, [(s.host, "")]) for s in [*downloaded, *heredoc_sources]]
        key = step_key(state.key, kind, describe(i), content, extra, dest, dest_is_dir,
                       state.config.working_dir)
        got = b.hit(key)
        if got is not None:
            return got
        with b.active(state) as (snap_key, rootfs, _bundle):
            upper = b.upperdir(snap_key, state)
            identity = chown_identity(rootfs, i.chown) if i.chown else None
            if from_stage is not None or from_image:
                with b.view(src_state) as src_root:
                    sources = [Source(resolve_in_root(src_root, p),
                                      posixpath.basename(p) or "/", "")
                               for pat in locals_ for p in _rootfs_glob(src_root, pat)]
                    copy_sources(rootfs, sources, dest, dest_is_dir,
                                 CopyOptions(identity, chmod), upper)
            else:
                assert b.ctx is not None
                sources = _context_sources(b, tuple(locals_))
                opts = CopyOptions(identity, chmod, extract_archives=is_add,
                                   excluded=excluded, drop_setid=True)
                if sources:
                    copy_sources(rootfs, sources, dest, dest_is_dir, opts, upper)
            extra_sources = [*downloaded, *heredoc_sources]
            if extra_sources:
                copy_sources(rootfs, extra_sources, dest,
                             dest_is_dir or len(sources) + len(extra_sources) > 1,
                             CopyOptions(identity or _root_identity(), chmod))
    text = i.loc.original.strip().split(None, 1)
    created_by = f"/bin/sh -c #(nop) {kind} {text[1] if len(text) > 1 else ''}".rstrip()
    return b.commit(state, snap_key, key, state.config, created_by)


def _excluder(b: Builder, patterns: tuple[str, ...]):
    """``.dockerignore`` plus ``COPY --exclude`` patterns (same pattern rules)."""
    assert b.ctx is not None
    ignore = b.ctx.ignore
    if not patterns:
        return ignore.excluded
    from dockyard.build.dockerignore import DockerIgnore

    extra = DockerIgnore(list(patterns))

    def excluded(rel: str) -> bool:
        # --exclude patterns are relative to the source being copied: try the path
        # below each of its leading directories too
        parts = rel.split("/")
        return ignore.excluded(rel) or any(extra.excluded("/".join(parts[k:]))
                                           for k in range(len(parts)))
    return excluded


def _root_identity():
    from dockyard.build.rootfs import Identity

    return Identity(0, 0)


def _heredoc_sources(i: ins.Copy | ins.Add, tmp: str) -> list[Source]:
    out = []
    for k, doc in enumerate(i.heredocs):
        path = os.path.join(tmp, f"heredoc{k}")
        with open(path, "w") as f:
            f.write(doc.content)
        os.chmod(path, 0o644)
        out.append(Source(path, doc.name, ""))
    return out


# --- WORKDIR -------------------------------------------------------------------------------

def workdir_step(b: Builder, state: State, step: Step) -> State:
    i = step.instruction
    assert isinstance(i, ins.Workdir)
    config = apply(state.config, i)
    key = step_key(state.key, describe(i))
    got = b.hit(key)
    if got is not None:
        return got
    with b.active(state) as (snap_key, rootfs, _bundle):
        mkdir_all(rootfs, config.working_dir)
    return b.commit(state, snap_key, key, config,
                    f"/bin/sh -c #(nop)  {i.loc.original.strip()}")


__all__ = ["copy_step", "run_step", "tree_digest", "workdir_step"]
