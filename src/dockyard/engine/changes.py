"""``docker diff``: what a container changed, from its read-write layer.

An overlay upperdir is the change set. Each entry is, like dockerd reports it:

* **Deleted** (2): a whiteout (a 0/0 character device, or a ``.wh.NAME`` file), and
  every lower entry hidden by an opaque directory (``trusted.overlay.opaque=y``);
* **Added** (1): not present in any lower layer;
* **Modified** (0): a file present below; a directory present below when its mode,
  owner or mtime changed (overlay restores a parent's times after a copy-up, so an
  mtime change is the user's), and the parent of every other change, as dockerd
  reports it (``C /etc`` comes with ``C /etc/passwd``).

Paths the engine itself puts in every container are left out, as dockerd keeps
them in a hidden init layer: ``/etc/hostname``, ``/etc/hosts``,
``/etc/resolv.conf``, ``/etc/mtab``, ``/.dockerenv`` and anything under ``/dev``,
``/proc`` and ``/sys`` (mountpoints the runtime makes).

The lower layers come from the image snapshotter (:func:`snapshot_layers`); a copy
snapshotter's read-write layer is a full tree, compared entry by entry with its
parent (``full=True``). The walk uses directory fds and never follows a link.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

MODIFIED, ADDED, DELETED = 0, 1, 2
IGNORED_FILES = frozenset({"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/mtab",
                           "/.dockerenv", "/.dockerinit"})
IGNORED_TREES = ("/dev", "/proc", "/sys")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPAQUE = "trusted.overlay.opaque"


def snapshot_layers(upper: Path) -> tuple[list[Path], bool]:
    """The lower layers (nearest first) of the snapshot whose files are ``upper``
    (``<root>/snapshots/<id>/fs``), and whether it is a full copy (copy snapshotter).
    ([], False) when ``upper`` is not a snapshot's directory."""
    from dockyard.image.snapshots import OverlaySnapshotter

    upper = Path(upper)
    snap_dir = upper.parent
    root = snap_dir.parent.parent
    if upper.name != "fs" or not snap_dir.name.isdigit() or \
            not (root / "metadata.json").is_file():
        return [], False
    snaps = OverlaySnapshotter(root)   # bookkeeping only; never mounts
    sid = int(snap_dir.name)
    info = next((i for i in snaps.walk() if i.id == sid), None)
    if info is None:
        return [], False
    chain: list[Path] = []
    parent = info.parent
    while parent is not None:
        p = snaps.stat(parent)
        chain.append(Path(snaps.fs_of(p.id)))
        parent = p.parent
    full = not (snap_dir / "work").is_dir()
    return (chain[:1] if full else chain), full


def _ignored(cpath: str) -> bool:
    if cpath in IGNORED_FILES:
        return True
    return any(cpath == t or cpath.startswith(t + "/") for t in IGNORED_TREES)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _open_dir_nofollow(layer: Path, parts: list[str]) -> int | None:
    """An fd for the directory ``parts`` of ``layer``, never following a symlink
    (a symlink there means the directory is not in that layer); None if absent."""
    try:
        fd = os.open(layer, _DIR_FLAGS)
    except OSError:
        return None
    for comp in parts:
        try:
            nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        fd = nfd
    return fd


def _lower_stat(lowers: Sequence[Path], cpath: str) -> os.stat_result | None:
    parts = [c for c in cpath.split("/") if c]
    for layer in lowers:
        dfd = _open_dir_nofollow(layer, parts[:-1])
        if dfd is None:
            continue
        try:
            st = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
        except OSError:
            continue
        finally:
            os.close(dfd)
        return None if _is_whiteout(st) else st
    return None


def _lower_readlink(layer: Path, cpath: str) -> str | None:
    parts = [c for c in cpath.split("/") if c]
    dfd = _open_dir_nofollow(layer, parts[:-1])
    if dfd is None:
        return None
    try:
        return os.readlink(parts[-1], dir_fd=dfd)
    except OSError:
        return None
    finally:
        os.close(dfd)


def _lower_names(lowers: Sequence[Path], cpath: str) -> set[str]:
    names: set[str] = set()
    hidden: set[str] = set()
    parts = [c for c in cpath.split("/") if c]
    for layer in lowers:
        dfd = _open_dir_nofollow(layer, parts)
        if dfd is None:
            continue
        try:
            with os.scandir(dfd) as it:
                for e in it:
                    if e.name.startswith(".wh."):
                        hidden.add(e.name[4:])
                        continue
                    st = e.stat(follow_symlinks=False)
                    if _is_whiteout(st):
                        hidden.add(e.name)
                    elif e.name not in hidden:
                        names.add(e.name)
            opaque = _opaque(dfd)
        finally:
            os.close(dfd)
        if opaque:
            break
    return names


def _opaque(path: str | int) -> bool:
    try:
        if isinstance(path, int):
            return os.getxattr(path, _OPAQUE) == b"y"
        return os.getxattr(path, _OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_mode == b.st_mode and a.st_uid == b.st_uid and a.st_gid == b.st_gid
            and a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns)


def changes(upper: Path | str, *, lowers: Iterable[Path] | None = None,
            full: bool | None = None) -> list[dict[str, object]]:
    """``[{"Path": "/etc/passwd", "Kind": 0}, ...]`` sorted by path.

    ``lowers`` default to the snapshot's (:func:`snapshot_layers`); ``full`` says
    ``upper`` is a complete tree to compare with ``lowers[0]`` (copy snapshotter).
    """
    upper = Path(upper)
    if lowers is None:
        found, auto_full = snapshot_layers(upper)
        layers = found
        full = auto_full if full is None else full
    else:
        layers = [Path(p) for p in lowers]
    full = bool(full)
    found_changes: dict[str, int] = {}
    touched: set[str] = set()
    top = os.open(upper, _DIR_FLAGS)
    stack: list[tuple[int, str]] = [(top, "")]
    try:
        while stack:
            dfd, prefix = stack.pop()
            try:
                _walk_dir(dfd, prefix, layers, full, found_changes, stack, touched)
            finally:
                os.close(dfd)
    finally:
        for dfd, _ in stack:
            os.close(dfd)
    # dockerd: the directory holding a change is reported as modified
    for cpath in list(found_changes):
        parent = os.path.dirname(cpath)
        if parent != "/" and parent not in found_changes and not _ignored(parent):
            found_changes[parent] = MODIFIED
    return [{"Path": p, "Kind": k} for p, k in sorted(found_changes.items())]


def _walk_dir(dfd: int, prefix: str, lowers: Sequence[Path], full: bool,
              out: dict[str, int], stack: list[tuple[int, str]], touched: set[str]) -> None:
    here = prefix or "/"
    with os.scandir(dfd) as it:
        names = sorted(e.name for e in it)
    present = set(names)
    if prefix in touched:
        # its mtime moved: a change, unless only the engine's own entries explain it
        # (the runtime making /etc/hosts as a mountpoint touches /etc)
        mine = [_ignored(f"{prefix}/{n}") for n in names]
        if not all(mine) or not mine:
            out.setdefault(prefix, MODIFIED)
    if full or (prefix and _opaque(dfd)):
        for gone in sorted(_lower_names(lowers, here) - present):
            cpath = f"{prefix}/{gone}"
            if not _ignored(cpath):
                out[cpath] = DELETED
    for name in names:
        cpath = f"{prefix}/{name}"
        if _ignored(cpath):
            continue
        if name == ".wh..wh..opq":
            continue
        if name.startswith(".wh."):
            out[f"{prefix}/{name[4:]}"] = DELETED
            continue
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if _is_whiteout(st) and not full:
            out[cpath] = DELETED
            continue
        below = _lower_stat(lowers, cpath)
        is_dir = stat.S_ISDIR(st.st_mode)
        if below is None:
            out[cpath] = ADDED
        elif is_dir and stat.S_ISDIR(below.st_mode):
            if (st.st_mode, st.st_uid, st.st_gid) != (below.st_mode, below.st_uid,
                                                       below.st_gid):
                out[cpath] = MODIFIED
            elif st.st_mtime_ns != below.st_mtime_ns:
                touched.add(cpath)
        elif not full or not _same_file(st, below) or (
                stat.S_ISLNK(st.st_mode)
                and os.readlink(name, dir_fd=dfd) != _lower_readlink(lowers[0], cpath)):
            out[cpath] = MODIFIED
        if is_dir:
            try:
                stack.append((os.open(name, _DIR_FLAGS, dir_fd=dfd), cpath))
            except FileNotFoundError:
                continue


__all__ = ["ADDED", "DELETED", "MODIFIED", "changes", "snapshot_layers"]
