"""Open paths inside a root directory so that nothing can lead outside it.

Why a module of its own: every place that writes untrusted paths into a tree
(layer apply, ``import``, ``docker cp``, build ``ADD``) must resolve them the same
way. A path is resolved as if the root were ``/``: ``..`` stops at the root and an
absolute symlink target starts again at the root (the kernel's ``RESOLVE_IN_ROOT``
semantics). Where ``openat2`` exists the kernel does the walk; elsewhere
:func:`_walk_in_root` does it one component at a time with ``O_NOFOLLOW``, so a
symlink swapped in between two steps is caught rather than followed.

Lexical cleaning (:func:`clean_path`) comes first and refuses a ``..`` that would
climb above the root: tar entries like ``../../etc/passwd`` are rejected, not
silently re-rooted, so the caller can name the offending entry.
"""

from __future__ import annotations

import errno
import os
import stat

from dockyard.errors import UnsafeContent

_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_MAX_SYMLINKS = 40
_openat2_ok: bool | None = None


def clean_path(name: str, *, what: str = "entry") -> tuple[str, ...]:
    """Split a tar-style path into clean components, relative to the root.

    A leading ``/`` is stripped (as docker does), ``.`` and empty components are
    dropped, ``a/../b`` becomes ``b``. A ``..`` that would climb above the root
    raises UnsafeContent. The empty tuple means the root itself.
    """
    parts: list[str] = []
    for comp in name.split("/"):
        if comp == "" or comp == ".":
            continue
        if comp == "..":
            if not parts:
                raise UnsafeContent(f"{what} {name!r}: '..' climbs above the root")
            parts.pop()
            continue
        if "\0" in comp:
            raise UnsafeContent(f"{what} {name!r}: NUL byte in path")
        parts.append(comp)
    return tuple(parts)


def openat2_available() -> bool:
    """True when the kernel has openat2 with RESOLVE_IN_ROOT (Linux 5.6+)."""
    global _openat2_ok
    if _openat2_ok is None:
        from dockyard.runtime import syscalls

        try:
            fd = syscalls.openat2(-100, "/", _DIR_FLAGS, 0, syscalls.RESOLVE_IN_ROOT)
        except OSError:
            _openat2_ok = False
        else:
            os.close(fd)
            _openat2_ok = True
    return _openat2_ok


class RootResolver:
    """Resolves directories inside one root; holds the root's fd.

    ``use_openat2=False`` forces the userspace walk (tests run both).
    """

    def __init__(self, root_fd: int, *, use_openat2: bool | None = None) -> None:
        self.root_fd = root_fd
        self.use_openat2 = openat2_available() if use_openat2 is None else use_openat2

    def open_dir(self, parts: tuple[str, ...]) -> int:
        """An O_PATH fd for the directory at ``parts``, symlinks resolved in the root.

        Raises FileNotFoundError / NotADirectoryError like open(2) would.
        """
        if not parts:
            return os.open(".", _DIR_FLAGS, dir_fd=self.root_fd)
        if self.use_openat2:
            from dockyard.runtime import syscalls

            return syscalls.openat2(
                self.root_fd, "/".join(parts), _DIR_FLAGS, 0,
                syscalls.RESOLVE_IN_ROOT | syscalls.RESOLVE_NO_MAGICLINKS)
        return _walk_in_root(self.root_fd, list(parts))


def _walk_in_root(root_fd: int, parts: list[str]) -> int:
    """The userspace RESOLVE_IN_ROOT: one O_NOFOLLOW step at a time.

    ``stack`` holds the fds of the directories walked so far (the root first), so
    ``..`` pops back without ever leaving the root.
    """
    stack = [os.open(".", _DIR_FLAGS, dir_fd=root_fd)]
    todo = list(reversed(parts))
    links = 0
    try:
        while todo:
            comp = todo.pop()
            if comp in ("", "."):
                continue
            if comp == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            cur = stack[-1]
            st = os.stat(comp, dir_fd=cur, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > _MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "too many symlinks", comp)
                target = os.readlink(comp, dir_fd=cur)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo.extend(reversed(target.split("/")))
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", comp)
            # O_NOFOLLOW: if a symlink was swapped in since the stat, this fails
            # (ELOOP / ENOTDIR) instead of following it.
            stack.append(os.open(comp, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=cur))
        return stack.pop()
    finally:
        for fd in stack:
            os.close(fd)


__all__ = ["RootResolver", "clean_path", "openat2_available"]
