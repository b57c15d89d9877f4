"""``cp`` and ``export``: files between a container and the host, through the
archive API (``GET/HEAD/PUT /containers/{id}/archive``, ``GET .../export``).

``cp`` follows docker's destination rules: into an existing directory under the
source's name, else renamed to the destination path; ``-`` is a tar on
stdin/stdout. Local extraction uses tarfile's ``tar`` filter: absolute paths and
links or members that would land outside the destination are refused.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli import jsonfast
from dockyard.cli.client import APINotFound, quote
from dockyard.cli.flags import FlagError, Opts, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# --- cp / export ------------------------------------------------------------------

CP_SPEC = Spec("[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockyard cp [OPTIONS] "
               "SRC_PATH|- CONTAINER:DEST_PATH", [
                   ("a archive", "bool", "Archive mode (copy all uid/gid information)"),
                   ("L follow-link", "bool", "Always follow symbol link in SRC_PATH"),
                   ("q quiet", "bool", "Suppress progress output during copy"),
               ], min_args=2, max_args=2,
               description="Copy files/folders between a container and the local filesystem")
EXPORT_SPEC = Spec("[OPTIONS] CONTAINER", [
    ("o output", "str", "Write to a file, instead of STDOUT"),
], min_args=1, max_args=1, description="Export a container's filesystem as a tar archive")


def _split_cp(arg: str) -> tuple[str | None, str]:
    """``name:path`` -> (name, path); a local path (absolute, ./, or no colon) -> (None,)."""
    if arg.startswith("/") or arg.startswith(".") or ":" not in arg:
        return None, arg
    name, _, path = arg.partition(":")
    return name, path


def _path_stat(headers: dict[str, str]) -> dict[str, Any]:
    import base64

    raw = headers.get("x-docker-container-path-stat")
    if not raw:
        return {}
    try:
        return jsonfast.loads(base64.b64decode(raw))
    except (ValueError, TypeError):
        return {}


def cmd_cp(opts: Opts, args: list[str], ctx: Any) -> int:
    src_ctr, src = _split_cp(args[0])
    dst_ctr, dst = _split_cp(args[1])
    if (src_ctr is None) == (dst_ctr is None):
        raise FlagError("must specify at least one container source" if src_ctr is None
                        else "copying between containers is not supported")
    client = ctx.client()
    if src_ctr is not None:
        return _cp_from(client, src_ctr, src, dst)
    assert dst_ctr is not None
    return _cp_to(client, src, dst_ctr, dst, bool(opts.archive), bool(opts.follow_link))


def _cp_from(client: Any, ctr: str, src: str, dst: str) -> int:
    import io
    import tarfile

    resp = client.stream("GET", f"/containers/{quote(ctr)}/archive", {"path": src})
    if dst == "-":
        for chunk in resp.iter_raw():
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return 0
    stat = _path_stat(resp.headers)
    data = resp.read()
    src_base = stat.get("name") or os.path.basename(src.rstrip("/")) or "/"
    if os.path.isdir(dst):
        target_dir, rename = dst, None
    else:
        if dst.endswith("/"):
            sys.stderr.write(f"Error: destination directory {dst!r} must exist\n")
            return 1
        target_dir, rename = os.path.dirname(os.path.abspath(dst)), os.path.basename(dst)
        if not os.path.isdir(target_dir):
            sys.stderr.write(f"Error: destination directory {target_dir!r} does not "
                             "exist\n")
            return 1
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = tar.getmembers()
        if rename and rename != src_base:
            for m in members:
                if m.name == src_base or m.name.startswith(src_base + "/"):
                    m.name = rename + m.name[len(src_base):]
        tar.extractall(target_dir, members=members, filter="tar")
    return 0


def _cp_to(client: Any, src: str, ctr: str, dst: str, archive: bool, follow: bool
           ) -> int:
    import io
    import tarfile

    if src == "-":
        body = sys.stdin.buffer.read()
        client.request("PUT", f"/containers/{quote(ctr)}/archive", {"path": dst},
                       body, {"Content-Type": "application/x-tar"}).read()
        return 0
    if not os.path.lexists(src):
        sys.stderr.write(f"Error: lstat {os.path.abspath(src)}: no such file or directory\n")
        return 1
    # Where does it go: into dst when dst is an existing directory, else renamed to dst.
    dst_dir, arcname = dst, os.path.basename(os.path.normpath(src))
    try:
        r = client.request("HEAD", f"/containers/{quote(ctr)}/archive", {"path": dst})
        r.read()
        st = _path_stat(r.headers)
        is_dir = bool(int(st.get("mode", 0)) & (1 << 31))
        if not is_dir:
            dst_dir, arcname = os.path.dirname(dst.rstrip("/")) or "/", \
                os.path.basename(dst.rstrip("/"))
    except APINotFound:
        if dst.endswith("/"):
            sys.stderr.write(f"Error: no such directory {dst!r} in the container\n")
            return 1
        dst_dir, arcname = os.path.dirname(dst.rstrip("/")) or "/", \
            os.path.basename(dst.rstrip("/"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.PAX_FORMAT,
                      dereference=follow) as tar:
        def owner(ti: tarfile.TarInfo) -> tarfile.TarInfo:
            if not archive:
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
            return ti
        tar.add(src, arcname=arcname, filter=owner)
    client.request("PUT", f"/containers/{quote(ctr)}/archive",
                   {"path": dst_dir, "copyUIDGID": archive or None}, buf.getvalue(),
                   {"Content-Type": "application/x-tar"}).read()
    return 0


def cmd_export(opts: Opts, args: list[str], ctx: Any) -> int:
    if not opts.output and sys.stdout.isatty():
        sys.stderr.write("Error: cowardly refusing to save to a terminal. Use the -o flag "
                         "or redirect\n")
        return 1
    resp = ctx.client().stream("GET", f"/containers/{quote(args[0])}/export")
    if opts.output:
        tmp = f"{opts.output}.dockyard-tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                for chunk in resp.iter_raw():
                    f.write(chunk)
            os.replace(tmp, opts.output)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    else:
        out = sys.stdout.buffer
        for chunk in resp.iter_raw():
            out.write(chunk)
        out.flush()
    return 0


__all__ = ["CP_SPEC", "EXPORT_SPEC", "cmd_cp", "cmd_export"]
