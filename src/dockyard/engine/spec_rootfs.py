"""What dockerd prepares inside a container's rootfs before the runtime starts it.

Today: the working directory. dockerd creates ``Config.WorkingDir`` (``mkdir -p``,
mode 0755, owned by root) at create and again at start, so a WORKDIR missing from the
image still works; the path is resolved inside the rootfs (a symlink in the image
cannot make it create directories on the host).
"""

from __future__ import annotations

import os
import posixpath
import stat

from dockyard.errors import InvalidArgument

__all__ = ["ensure_workdir"]


def ensure_workdir(rootfs: str, workdir: str) -> None:
    """``mkdir -p`` ``workdir`` inside ``rootfs``; InvalidArgument when a non-directory
    is in the way, with dockerd's words."""
    if not workdir:
        return
    from dockyard.runtime.rootfs.paths import RootDir

    clean = posixpath.normpath(workdir)
    try:
        with RootDir(rootfs) as root:
            fd = root.open(clean, create="dir", mode=0o755)
            try:
                is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            finally:
                os.close(fd)
    except NotADirectoryError:
        is_dir = False
    except OSError as e:
        if e.errno != 20:  # ENOTDIR, as RootDir words it
            raise InvalidArgument(f"Cannot mkdir: {clean}: {e.strerror}") from None
        is_dir = False
    if not is_dir:
        raise InvalidArgument(f"Cannot mkdir: {clean} is not a directory")
