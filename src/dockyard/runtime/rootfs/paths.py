"""Resolving container paths *inside* a root, even through hostile symlinks.

A container image may hold ``/evil -> /etc`` or ``/evil -> ../../..``. Every path the
runtime creates or mounts on inside the rootfs must be resolved as if the rootfs were
``/``: an absolute symlink restarts at the rootfs, ``..`` stops at it. Two tools:

* :func:`resolve_in_root` returns a host path string (used by callers that only read,
  e.g. to find the process's cwd). It is a lexical walk with ``readlink``, fine when no
  one races us.
* :class:`RootDir` hands out ``O_PATH`` file descriptors for paths inside the root,
  creating missing directories or files on the way. It uses ``openat2(RESOLVE_IN_ROOT)``
  when the kernel has it and falls back to a component-by-component walk with
  ``O_NOFOLLOW`` (symlinks are read and re-resolved by us, ``..`` pops our own stack of
  directory fds), so nothing outside the root is ever opened. Mounts then target
  ``/proc/self/fd/N``, the object we resolved, not a path the kernel would walk again.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat

from dockyard.errors import InvalidArgument

__all__ = ["RootDir", "fd_path", "resolve_in_root"]

MAX_SYMLINKS = 40  # the kernel's own limit (ELOOP after 40 links)

_openat2_works: bool | None = None  # None: not tried yet


def _components(path: str) -> list[str]:
    return [c for c in path.split("/") if c not in ("", ".")]


def _too_many_links(path: str) -> OSError:
    return OSError(errno.ELOOP, f"{path!r}: too many levels of symbolic links")


def resolve_in_root(root: str, path: str) -> str:
    """Host path of ``path`` as seen by a process whose ``/`` is ``root``.

    Symlinks are followed, but an absolute target restarts at ``root`` and ``..``
    never climbs above it. Components that do not exist are kept as written (so
    the result can be created). Raises OSError(ELOOP) on a symlink loop.
    """
    root = os.path.abspath(root)
    resolved: list[str] = []
    pending = _components(path)[::-1]  # a stack: the next component is last
    links = 0
    while pending:
        comp = pending.pop()
        if comp == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, comp)
        try:
            mode = os.lstat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(comp)
            continue
        if stat.S_ISLNK(mode):
            links += 1
            if links > MAX_SYMLINKS:
                raise _too_many_links(path)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending.extend(_components(target)[::-1])
            continue
        resolved.append(comp)
    return os.path.join(root, *resolved)


def fd_path(fd: int) -> str:
    """The magic-link path that names exactly the object behind ``fd``."""
    return f"/proc/self/fd/{fd}"


class RootDir:
    """An open root directory; paths given to its methods are inside it.

    Open it *after* the rootfs was bind-mounted onto itself, so the fd sits on the
    mount that later becomes ``/``. Returned fds are ``O_PATH|O_CLOEXEC``; the
    caller closes them (or uses :meth:`target`).
    """

    def __init__(self, path: str) -> None:
        # Opened as given: a relative path is looked up from the cwd only, which
        # works even where the absolute one's ancestors are not searchable.
        self.fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.path = os.path.abspath(path)  # for messages

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> RootDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookups --------------------------------------------------------------------

    def open(self, path: str, *, create: str | None = None, mode: int = 0o755,
             follow: bool = True) -> int:
        """An ``O_PATH`` fd for ``path`` resolved inside the root.

        ``create="dir"`` makes missing directories (``mkdir -p``); ``"file"`` makes
        the missing parents and an empty last component. ``follow=False`` leaves a
        final symlink unresolved.
        """
        global _openat2_works
        if _openat2_works is not False:
            from dockyard.runtime import syscalls

            flags = os.O_PATH | (0 if follow else os.O_NOFOLLOW)
            try:
                fd = syscalls.openat2(self.fd, path.lstrip("/") or ".", flags, 0,
                                      syscalls.RESOLVE_IN_ROOT |
                                      syscalls.RESOLVE_NO_MAGICLINKS)
                _openat2_works = True
                return fd
            except OSError as exc:
                if exc.errno in (errno.ENOSYS, errno.EPERM) and _openat2_works is None:
                    # No openat2 here (old kernel, or a seccomp filter): walk by hand.
                    _openat2_works = False
                elif exc.errno == errno.ENOENT and create is not None:
                    pass  # fall through: the walk creates what is missing
                elif exc.errno == errno.EAGAIN:
                    pass  # a rename raced the ".." check: the walk is race-free
                else:
                    raise OSError(exc.errno, f"{path!r} in {self.path}: "
                                             f"{os.strerror(exc.errno)}") from None
        return self._walk(path, create, mode, follow)

    def _walk(self, path: str, create: str | None, mode: int, follow: bool) -> int:
        stack = [os.dup(self.fd)]
        pending = _components(path)[::-1]  # a stack: the next component is last
        links = 0
        try:
            while pending:
                comp = pending.pop()
                if comp == "..":
                    if len(stack) > 1:
                        os.close(stack.pop())
                    continue
                last = not pending
                try:
                    fd = os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC,
                                 dir_fd=stack[-1])
                except FileNotFoundError:
                    if create is None:
                        raise OSError(errno.ENOENT, f"{path!r} in {self.path}: "
                                                    "no such file or directory") from None
                    self._create(stack[-1], comp, "file" if last and create == "file"
                                 else "dir", mode)
                    pending.append(comp)  # look again: whatever is there now
                    continue
                st_mode = os.fstat(fd).st_mode
                if stat.S_ISLNK(st_mode) and (follow or not last):
                    os.close(fd)
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise _too_many_links(path)
                    target = os.readlink(comp, dir_fd=stack[-1])
                    if target.startswith("/"):
                        while len(stack) > 1:
                            os.close(stack.pop())
                    pending.extend(_components(target)[::-1])
                    continue
                if not last and not stat.S_ISDIR(st_mode):
                    os.close(fd)
                    raise OSError(errno.ENOTDIR, f"{path!r} in {self.path}: "
                                                 f"{comp!r} is not a directory")
                stack.append(fd)
            return stack.pop()
        finally:
            for fd in stack:
                os.close(fd)

    @staticmethod
    def _create(dir_fd: int, name: str, kind: str, mode: int) -> None:
        try:
            if kind == "dir":
                os.mkdir(name, mode, dir_fd=dir_fd)
            else:
                os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY |
                                 os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd))
        except FileExistsError:
            pass  # someone (or a dangling symlink) is there: the caller looks again

    def target(self, path: str, *, create: str | None = None) -> _FdPath:
        """``with root.target(p) as t``: ``t`` is ``/proc/self/fd/N`` for ``p`` inside
        the root, valid within the block.

        Open a fresh target after mounting on a path: an fd taken before the mount
        names the directory *under* the new mount, not the mount itself.
        """
        return _FdPath(self.open(path, create=create))

    def parent(self, path: str) -> _Parent:
        """``with root.parent(p) as (dir_fd, name)``: the parent directory (created if
        missing) and the last component's name, for operations on a name that must
        not be followed (mknod, symlink, unlink).
        """
        head, name = posixpath.split(posixpath.normpath("/" + path))
        if name in ("", ".", ".."):
            raise InvalidArgument(f"{path!r} does not name an entry inside the root")
        return _Parent(self.open(head, create="dir"), name)

    def host_path(self, fd: int) -> str:
        """Where ``fd`` really is (for messages and tests)."""
        return os.readlink(fd_path(fd))


class _FdPath:
    """Context manager owning an fd; enters as its /proc/self/fd path.

    (A class rather than @contextmanager: contextlib costs start-up time.)
    """

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> str:
        return fd_path(self.fd)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


class _Parent(_FdPath):
    __slots__ = ("name",)

    def __init__(self, fd: int, name: str) -> None:
        super().__init__(fd)
        self.name = name

    def __enter__(self) -> tuple[int, str]:  # type: ignore[override]
        return self.fd, self.name
