"""``POST /build`` and ``POST /build/prune``: docker's legacy build protocol.

The body is the build context as a tar (possibly compressed); the query carries
docker's parameters: ``t`` (repeatable), ``dockerfile``, ``buildargs`` and
``labels`` (JSON objects), ``target``, ``nocache``, ``pull``, ``rm``,
``forcerm``, ``q``, ``cachefrom``, ``networkmode``, ``platform``. Progress is a
JSON-message stream: ``{"stream": "Step 1/3 : ..."}`` lines, ``{"aux": {"ID":
...}}`` at the end, and ``{"error": ..., "errorDetail": {...}}`` when a step
fails (with the exit code, as ``docker build`` shows it). ``docker build`` with
``DOCKER_BUILDKIT=0`` and docker-py's ``images.build`` speak exactly this.

The context is extracted (``dockyard.image.safetar``) from the body in a worker
thread into ``<data_root>/build/tmp/ctx-*`` and removed afterwards; the build runs
there with the same executor as ``dockyard build``.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import tempfile
from typing import Any

from aiohttp import web

from dockyard.api.app import Route, backend_of, json_response
from dockyard.api.params import query_bool
from dockyard.api.streams import JsonStream, Message
from dockyard.errors import InvalidArgument


def _json_map(q, name: str) -> dict[str, str]:
    text = q.get(name)
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        raise InvalidArgument(f"invalid {name} parameter: not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"invalid {name} parameter: want a JSON object")
    # buildargs may carry null for "take it from the daemon's environment": unset
    return {str(k): str(v) for k, v in doc.items() if v is not None}


def _network(mode: str) -> str:
    if mode in ("", "default", "host", "bridge"):
        return "default"
    if mode == "none":
        return "none"
    raise InvalidArgument(f"networkmode {mode!r} is not supported for builds (default, "
                          "host, bridge or none)")


def build_options(q) -> Any:
    from dockyard.build.executor import BuildOptions
    from dockyard.image import reference as refs

    if q.get("version") == "2":
        raise InvalidArgument("BuildKit (build version 2) is not supported by dockyardd; "
                              "build with DOCKER_BUILDKIT=0")
    if q.get("remote"):
        raise InvalidArgument("remote build contexts (remote=...) are not supported; send "
                              "the context as the request body")
    tags = tuple(t for t in q.getall("t", []) if t)
    for t in tags:
        try:
            refs.parse(t)
        except InvalidArgument as e:
            raise InvalidArgument(f"invalid tag {t!r}: {e.message}") from None
    outputs = q.get("outputs")
    if outputs and outputs not in ("[]", "null"):
        raise InvalidArgument("outputs are not supported through the API; use "
                              "'dockyard build --output'")
    return BuildOptions(
        dockerfile=q.get("dockerfile") or "Dockerfile", tags=tags,
        build_args=_json_map(q, "buildargs"), target=q.get("target") or None,
        labels=_json_map(q, "labels"), no_cache=query_bool(q, "nocache"),
        pull=query_bool(q, "pull"), platform=q.get("platform") or None,
        network=_network(q.get("networkmode", "")), memo_hashes=False,
        quiet=query_bool(q, "q"))


class PaddedTar(io.RawIOBase):
    """The docker CLI, when ``-f`` names a Dockerfile outside the context, appends
    files to the context tar and ends the stream right after the last file's bytes
    (no padding, no end blocks; Go's tar reader accepts that). For an uncompressed
    tar this adds the missing padding and the two zero blocks at EOF."""

    _COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")

    def __init__(self, stream) -> None:
        self.stream = stream
        self.count = 0
        self.head = b""
        self.tail: bytes | None = None
        self.plain: bool | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if self.tail is None:
            data = self.stream.read(len(b))
            if self.plain is None and data:
                self.head += data
                if len(self.head) >= 6 or not data:
                    self.plain = not self.head.startswith(self._COMPRESSED)
            if data:
                self.count += len(data)
                b[:len(data)] = data
                return len(data)
            pad = (-self.count) % 512
            self.tail = b"\0" * (pad + 1024) if self.plain else b""
        n = min(len(b), len(self.tail))
        b[:n] = self.tail[:n]
        self.tail = self.tail[n:]
        return n


async def build(request: web.Request) -> web.StreamResponse:
    from dockyard.daemon.bridge import BodyReader

    backend = backend_of(request)
    opts = build_options(request.query)
    loop = asyncio.get_running_loop()
    stream = JsonStream(request, loop)
    body = BodyReader(request.content, loop)

    def emit(msg: Message) -> None:
        if opts.quiet and "stream" in msg:
            return
        stream.emit(msg)

    def work() -> str:
        from dockyard.build.context import BuildContext
        from dockyard.build.errors import StepFailed
        from dockyard.build.executor import Builder
        from dockyard.build.stale import clean_stale, scratch_prefix

        # contexts can be big: on the data root's disk (docker keeps them in its
        # data root too), not in the exec root (often a small tmpfs)
        base = backend.data_root / "build" / "tmp"
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        clean_stale(base)
        tmp = tempfile.mkdtemp(prefix=scratch_prefix("ctx"), dir=base)
        svc = backend.open_images()
        builder = Builder(svc, backend.exec_root, emit=emit)
        try:
            ctx = BuildContext.from_tar(PaddedTar(body), tmp,  # type: ignore[arg-type]
                                        opts.dockerfile)
            try:
                result = builder.build(ctx, opts)
            except StepFailed as e:
                stream.emit({"errorDetail": {"code": e.code, "message": e.message},
                             "error": e.message})
                return ""
            if opts.quiet:
                stream.emit({"stream": result.image_id + "\n"})
            return result.image_id
        finally:
            builder.close()
            svc.close()
            shutil.rmtree(tmp, ignore_errors=True)

    def finish(image_id: str) -> list[Message]:
        if image_id:
            for t in opts.tags:
                backend.events.emit("image", "tag", image_id, [("name", t)])
        return []

    return await stream.run(backend.run(work), finish)


async def prune(request: web.Request) -> web.Response:
    backend = backend_of(request)

    def work() -> dict[str, Any]:
        from dockyard.build.cache import BuildCache

        cache = BuildCache(backend.data_root)
        try:
            keys = cache.clear()
        finally:
            cache.close()
        mounts = backend.data_root / "build" / "cache-mounts"
        freed = 0
        if mounts.exists():
            for p in mounts.rglob("*"):
                if p.is_file() and not p.is_symlink():
                    freed += p.stat().st_size
            shutil.rmtree(mounts, ignore_errors=True)
        return {"CachesDeleted": keys or None, "SpaceReclaimed": freed}

    return json_response(await backend.run(work))


ROUTES: list[Route] = [
    ("POST", "/build", build),
    ("POST", "/build/prune", prune),
]

__all__ = ["ROUTES", "build", "build_options", "prune"]
