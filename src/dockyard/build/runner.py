"""RUN steps: a real container through ``dockyard-runtime`` on an overlay snapshot.

The executor prepares an active snapshot on the current state and mounts it at
``<bundle>/rootfs``; this module writes the bundle's ``config.json`` (the
image's Env/User/WorkingDir, the shell or exec form, docker's default
capabilities, the ``--mount``s), runs ``dockyard-runtime run`` in the
foreground, streams its output line by line and returns the exit code and the
last lines.

Networking: ``--network=default`` shares the host's network namespace (docker's
legacy builder uses its bridge; there is no bridge here, and host networking is
what ``--network=host`` builds get too); ``none`` gets a fresh namespace with
nothing but loopback. /etc/resolv.conf (the host's), /etc/hosts and
/etc/hostname are private writable copies bound over the image's, as docker
gives them; what a RUN writes there is thrown away.

Mount points the runtime needs and the image lacks (``/proc``, a cache mount's
target, /etc/hosts...) are created here and listed in :class:`Points`; the
executor removes them (and the directory copies the overlay made only for them)
before the diff, as docker's init layer keeps them out of its layers.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.build import instructions as ins
from dockyard.build.rootfs import Identity, resolve_in_root, run_identity
from dockyard.errors import InvalidArgument, NotFound

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
TAIL_LINES = 20


@dataclass
class RunRequest:
    argv: list[str]
    env: list[str]
    user: str
    workdir: str
    network: str = "default"
    mounts: list[dict] = field(default_factory=list)   # OCI mount entries (prepared)
    hostname: str = ""


@dataclass
class RunResult:
    exit_code: int
    tail: list[str]


def container_id() -> str:
    token = os.environ.get("DOCKYARD_TEST_TOKEN", "")
    return f"build-{token + '-' if token else ''}{secrets.token_hex(8)}"


def runtime_command() -> list[str]:
    found = shutil.which("dockyard-runtime")
    if found and not os.environ.get("PYTHONPATH"):
        return [found]
    return [sys.executable, "-m", "dockyard.runtime.cli"]


@dataclass
class Points:
    """Mount points made for a run: ``created`` (image paths, to remove after the
    run) and the metadata of the existing directories they were made in
    (``parents``: rootfs-relative path -> (mode, uid, gid)), which the overlay copied up only for
    them; the executor drops those copies when the run left them unchanged."""

    created: list[str] = field(default_factory=list)
    parents: dict[str, tuple[int, int, int]] = field(default_factory=dict)


def _ensure_point(rootfs: str, path: str, is_dir: bool, points: Points) -> None:
    """Create a missing mount point (and parents) in the rootfs, noting what was made."""
    parts = [p for p in path.split("/") if p]
    cur = "/"
    for i, part in enumerate(parts):
        parent = cur
        cur = cur.rstrip("/") + "/" + part
        host = resolve_in_root(rootfs, cur)
        if os.path.lexists(host):
            continue
        if parent != "/" and parent not in points.created:
            phost = resolve_in_root(rootfs, parent)
            st = os.lstat(phost)
            points.parents.setdefault(os.path.relpath(phost, rootfs),
                                      (st.st_mode, st.st_uid, st.st_gid))
        last = i == len(parts) - 1
        if last and not is_dir:
            with open(host, "w"):
                pass
        else:
            os.mkdir(host, 0o755)
        points.created.append(cur)


def _etc_files(bundle: str, hostname: str) -> dict[str, str]:
    """Private copies of the files docker gives every build container (writable;
    what a RUN writes to them is thrown away, as docker's are)."""
    out = {}
    hosts = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
             f"127.0.1.1\t{hostname}\n")
    try:
        with open("/etc/resolv.conf") as f:
            resolv = f.read()
    except OSError:
        resolv = ""
    for name, text in (("resolv.conf", resolv), ("hosts", hosts),
                       ("hostname", hostname + "\n")):
        path = os.path.join(bundle, f"etc-{name}")
        with open(path, "w") as f:
            f.write(text)
        out[f"/etc/{name}"] = path
    return out


def make_spec(rootfs: str, req: RunRequest, points: Points) -> dict:
    from dockyard.runtime.default_spec import default_spec

    spec = default_spec()
    ident: Identity = run_identity(rootfs, req.user)
    env = list(req.env)
    if not any(e.startswith("HOME=") for e in env):
        from dockyard.build.rootfs import home_of

        env.append(f"HOME={home_of(rootfs, ident.uid) if ident.uid else '/root'}")
    proc = spec["process"]
    proc.update(terminal=False, args=req.argv, env=env, cwd=req.workdir or "/",
                noNewPrivileges=False,
                user={"uid": ident.uid, "gid": ident.gid,
                      **({"additionalGids": list(ident.groups)} if ident.groups else {})})
    proc["capabilities"] = {k: list(DOCKER_CAPS) for k in ("bounding", "effective",
                                                           "permitted")}
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = hard if hard != resource.RLIM_INFINITY else 1048576
    proc["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": limit, "soft": limit}]
    spec["root"] = {"path": "rootfs", "readonly": False}
    spec["hostname"] = req.hostname or "buildkitsandbox"
    linux = spec["linux"]
    linux.pop("resources", None)
    # RUN is confined like a container: docker's builder applies its default profile.
    from dockyard.engine.spec_seccomp import seccomp_section

    linux["seccomp"] = seccomp_section(False, None, list(DOCKER_CAPS))
    namespaces = ["pid", "ipc", "uts", "mount"]
    if req.network == "none":
        namespaces.append("network")
    linux["namespaces"] = [{"type": t} for t in namespaces]
    mounts = [m for m in spec["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    for point in ("/proc", "/sys", "/dev"):
        _ensure_point(rootfs, point, True, points)
    bundle = os.path.dirname(rootfs)
    for name, source in _etc_files(bundle, spec["hostname"]).items():
        host = resolve_in_root(rootfs, name)
        if os.path.lexists(host) and not os.path.isfile(host):
            continue   # a symlink or a directory there: leave the image's alone
        _ensure_point(rootfs, name, False, points)
        mounts.append({"destination": name, "type": "bind", "source": source,
                       "options": ["rbind", "rw"]})
    # A mount *inside* a directory the step creates would otherwise be recorded,
    # so every target exists before the run and is removed afterwards if new.
    for m in req.mounts:
        _ensure_point(rootfs, m["destination"], m.pop("_is_dir", True), points)
        mounts.append(m)
    if not os.path.isdir(resolve_in_root(rootfs, req.workdir or "/")):
        raise NotFound(f"the working directory {req.workdir!r} does not exist in the image")
    spec["mounts"] = mounts
    return spec


def run_container(bundle: str, state_root: str, req: RunRequest,
                  on_output: Callable[[str], None]) -> tuple[RunResult, Points]:
    """Run ``req`` in the bundle whose rootfs is mounted; returns the result and the
    mount points created in the rootfs."""
    rootfs = os.path.join(bundle, "rootfs")
    points = Points()
    spec = make_spec(rootfs, req, points)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    cid = container_id()
    cmd = [*runtime_command(), "--root", state_root, "run", "--bundle", bundle, cid]
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace")
            tail.append(line.rstrip("\n"))
            on_output(line)
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        subprocess.run([*runtime_command(), "--root", state_root, "delete", "--force", cid],
                       capture_output=True)
        raise
    return RunResult(code, list(tail)), points


def oci_mount_for(m: ins.Mount, host_source: str, is_dir: bool) -> dict:
    opts = ["rbind", "ro" if m.readonly else "rw"]
    return {"destination": m.target, "type": "bind", "source": host_source,
            "options": opts, "_is_dir": is_dir}


def tmpfs_mount(m: ins.Mount) -> dict:
    opts = ["nosuid", "nodev"]
    if m.size:
        opts.append(f"size={m.size}")
    return {"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": opts,
            "_is_dir": True}


def check_network(value: str) -> str:
    if value in ("default", "none", "host", ""):
        return "none" if value == "none" else "default"
    raise InvalidArgument(f"RUN --network={value}: only default, host and none are "
                          "supported")


__all__ = ["RunRequest", "RunResult", "check_network", "make_spec", "oci_mount_for",
           "run_container", "tmpfs_mount"]
