"""``--output``: where a built image goes besides the image store.

``type=local,dest=DIR`` writes the image's flattened filesystem into DIR;
``type=tar,dest=FILE`` writes it as one tar (``-`` = stdout);
``type=oci,dest=FILE`` an OCI image layout as a tar; ``type=docker,dest=FILE``
a ``docker load``-able archive. The image itself is always in the store too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import InvalidArgument

TYPES = ("local", "tar", "oci", "docker")


@dataclass(frozen=True)
class OutputSpec:
    type: str
    dest: str


def parse_output(text: str) -> OutputSpec:
    """``type=local,dest=out`` (docker's CSV form), or a bare path meaning local."""
    if "=" not in text:
        return OutputSpec("local", text)
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid --output field {part!r} (want key=value)")
        fields[key.strip().lower()] = value
    kind = fields.pop("type", "local")
    if kind not in TYPES:
        raise InvalidArgument(f"unsupported --output type {kind!r} (one of "
                              f"{', '.join(TYPES)})")
    dest = fields.pop("dest", "")
    fields.pop("name", None)
    if fields:
        raise InvalidArgument(f"unknown --output field(s): {', '.join(sorted(fields))}")
    if not dest:
        raise InvalidArgument(f"--output type={kind} needs dest=")
    return OutputSpec(kind, dest)


def export(images, image_id: str, spec: OutputSpec) -> None:
    if spec.type == "docker":
        with _out(spec.dest) as f:
            images.save([image_id], f)
        return
    if spec.type == "oci":
        work = Path(tempfile.mkdtemp(prefix="oci-"))
        try:
            images.save_layout([image_id], work / "layout")
            with _out(spec.dest) as f:
                _tar_dir(work / "layout", f)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    with images.mounted_view(image_id) as root:
        if spec.type == "local":
            os.makedirs(spec.dest, exist_ok=True)
            r = subprocess.run(["cp", "-a", f"{root}/.", spec.dest], capture_output=True,
                               text=True)
            if r.returncode:
                raise InvalidArgument(f"--output {spec.dest}: {r.stderr.strip()}")
        else:
            with _out(spec.dest) as f:
                _tar_dir(root, f)


class _out:
    def __init__(self, dest: str) -> None:
        self.dest = dest
        self.f = None

    def __enter__(self):
        if self.dest == "-":
            return sys.stdout.buffer
        self.f = open(self.dest, "wb")
        return self.f

    def __exit__(self, *exc: object) -> None:
        if self.f is not None:
            self.f.close()


def _tar_dir(root: str | os.PathLike[str], out) -> None:
    from dockyard.image.diff import DiffOptions, diff_dirs

    diff_dirs(None, root, out, DiffOptions(compression="none"))


__all__ = ["OutputSpec", "export", "parse_output"]
