"""Helpers for the build parity tests: materialize a corpus case, flatten images.

A corpus case is ``corpus/<name>/Dockerfile`` (``{base}`` stands for the busybox
image), ``ctx/`` (its context files) and an optional ``case.json``: ``modes``
(path -> octal), ``dirs`` (empty directories), ``symlinks`` (path -> target),
``tars`` (archives made from ``payload`` at setup), ``random`` (path -> size of
random bytes), ``build_args`` and ``target``. Git cannot hold those file kinds
and modes faithfully, so the context is laid out in a temporary directory for
each run.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent / "corpus"
BASE = "busybox:dytest"


def cases() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if (p / "Dockerfile").is_file())


def meta(name: str) -> dict[str, Any]:
    path = CORPUS / name / "case.json"
    return json.loads(path.read_text()) if path.exists() else {}


def materialize(name: str, target: Path) -> Path:
    """Lay out the case's context (Dockerfile included) in ``target``."""
    src = CORPUS / name
    if (src / "ctx").exists():
        shutil.copytree(src / "ctx", target, symlinks=True)
    else:
        target.mkdir(parents=True)
    text = (src / "Dockerfile").read_text().replace("{base}", BASE)
    (target / "Dockerfile").write_text(text)
    m = meta(name)
    payload = m.get("payload", {})
    for arc, spec in m.get("tars", {}).items():
        mode = "w:gz" if spec.get("compress") == "gz" else "w"
        with tarfile.open(target / arc, mode) as tar:
            for rel, content in sorted(payload.items()):
                data = content.encode()
                info = tarfile.TarInfo(f"{spec['dir']}/{rel}")
                info.size = len(data)
                info.mode = 0o644
                info.uid, info.gid = 123, 456
                info.mtime = 1_600_000_000
                tar.addfile(info, io.BytesIO(data))
    for rel, size in m.get("random", {}).items():
        (target / rel).write_bytes(hashlib.sha256(rel.encode()).digest() * (size // 32))
    for rel, link in m.get("symlinks", {}).items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, target / rel)
    for rel in m.get("dirs", []):
        (target / rel).mkdir(parents=True, exist_ok=True)
    for rel, mode in m.get("modes", {}).items():
        os.chmod(target / rel, int(mode, 8))
    return target


def flatten_layers(layer_streams, target: Path) -> None:
    """Apply layer tars bottom-up into ``target`` (dockyard's safe extraction)."""
    from dockyard.image.layers import Whiteouts, apply_layer
    from dockyard.image.safetar import TarOptions

    target.mkdir(parents=True, exist_ok=True)
    for stream in layer_streams:
        with stream as f:
            apply_layer(f, target, whiteouts=Whiteouts.FLAT,
                        options=TarOptions(keep_setuid=True))


def docker_layers(save_tar: Path):
    """The layer streams of a ``docker save`` archive, bottom first."""
    with tarfile.open(save_tar) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        names = manifest[0]["Layers"]
    for name in names:
        outer = tarfile.open(save_tar)   # noqa: SIM115 - closed with the stream
        member = outer.extractfile(name)
        assert member is not None
        yield _Closing(member, outer)


def saved_config(save_tar: Path) -> dict[str, Any]:
    with tarfile.open(save_tar) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        return json.load(outer.extractfile(manifest[0]["Config"]))  # type: ignore[arg-type]


class _Closing(io.RawIOBase):
    def __init__(self, inner, owner) -> None:
        self.inner = inner
        self.owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.inner.read(len(b))
        b[:len(data)] = data
        return len(data)

    def read(self, n: int = -1) -> bytes:
        return self.inner.read(n)

    def close(self) -> None:
        self.owner.close()
        super().close()


def tree(root: Path) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, size, content sha256 or link target)."""
    out: dict[str, tuple] = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(top, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", oct(mode), st.st_uid, st.st_gid, 0, "")
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", "", st.st_uid, st.st_gid, 0, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256(Path(p).read_bytes()).hexdigest()[:16]
                out[rel] = ("file", oct(mode), st.st_uid, st.st_gid, st.st_size, h)
            else:
                out[rel] = ("other", oct(mode), st.st_uid, st.st_gid, 0,
                            str(stat.S_IFMT(st.st_mode)))
    return out


def tree_diff(docker: dict[str, tuple], ours: dict[str, tuple], limit: int = 40) -> list[str]:
    lines = []
    for path in sorted(set(docker) | set(ours)):
        a, b = docker.get(path), ours.get(path)
        if a != b:
            lines.append(f"{path}: docker={a} dockyard={b}")
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
               "Labels", "StopSignal", "Healthcheck", "OnBuild", "Shell")


def config_fields(c: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k in CONFIG_KEYS:
        v = c.get(k)
        if v in ([], {}, "", None):
            v = None
        if k in ("ExposedPorts", "Volumes") and v:
            v = sorted(v)
        out[k] = v
    return out
