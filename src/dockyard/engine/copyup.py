"""docker's copy-up: a new, empty volume starts with the image's files at its mountpoint.

dockerd copies when a volume is mounted over a directory the image fills and the
volume holds nothing yet (``nocopy`` turns it off). The copy keeps owners, modes
(setuid included), times, xattrs, hardlinks, symlinks and device nodes, and the
volume's root takes the owner and mode of the image's directory. It is done as a
tar stream from the rootfs into the volume through the safe extractor, so the
image's symlinks are resolved inside the rootfs and nothing lands outside the
volume.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from dockyard.errors import InvalidArgument


def copy_into_volume(rootfs: Path, destination: str, data_dir: Path) -> bool:
    """Copy ``rootfs``'s ``destination`` into ``data_dir`` if that is empty and the
    image has a directory there. Returns True when something was copied."""
    from dockyard.engine.tarstream import IterReader, TreeTar
    from dockyard.image.safetar import SafeTree, TarOptions, extract
    from dockyard.image.tario import Source, TarLimits, TarReader
    from dockyard.runtime.rootfs.paths import RootDir

    try:
        if any(os.scandir(data_dir)):
            return False
    except FileNotFoundError:
        return False
    with RootDir(str(rootfs)) as root:
        try:
            fd = root.open(destination)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                return False
            raise
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                return False
            stream = IterReader(TreeTar(fd, "", "."))
            options = TarOptions(keep_setuid=True, allow_devices=True, chown=None)
            limits = TarLimits()
            source = Source(stream, limits, "none", hash_raw=False)
            try:
                with SafeTree(data_dir, options) as tree:
                    extract(TarReader(source, limits), tree)
            except InvalidArgument as e:
                raise InvalidArgument(f"copying the image's {destination} into its volume: "
                                      f"{e.message}") from e
        finally:
            os.close(fd)
    return True


__all__ = ["copy_into_volume"]
