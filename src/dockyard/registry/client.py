"""An HTTP client for one registry host (distribution API v2), over aiohttp.

Drives :mod:`dockyard.registry.auth` for 401s, picks HTTPS or (for insecure
registries and loopback) HTTP, and offers the few operations pull and push are
made of. Blob downloads are verified (size and digest) by the content store's
writer and resume with ``Range`` after a broken connection; nothing unverified
becomes visible. Sync callers use ``asyncio.run`` around the pull/push functions.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urljoin

import aiohttp

from dockyard.errors import (
    DigestMismatch,
    DockyardError,
    Forbidden,
    InvalidArgument,
    NotFound,
    Unauthorized,
    Unavailable,
)
from dockyard.image.content import BlobInfo, ContentStore
from dockyard.image.digest import Digest
from dockyard.registry import manifest as mf
from dockyard.registry.auth import Authenticator, TokenRequest
from dockyard.registry.config import RegistryConfig
from dockyard.registry.credentials import Credential

_PIECE = 1 << 20
RETRIES = 5


@dataclass(frozen=True)
class Fetched:
    body: bytes
    media_type: str
    digest: Digest


Progress = Callable[[int], None]   # called with the bytes just moved


class RegistryClient:
    """Talks to ``domain`` (``host[:port]``, or ``docker.io``)."""

    def __init__(self, domain: str, session: aiohttp.ClientSession, *,
                 config: RegistryConfig | None = None,
                 credential: Credential | None = None, for_push: bool = False) -> None:
        self.domain = domain
        self.session = session
        self.config = config or RegistryConfig()
        self.auth = Authenticator(credential)
        candidates = self.config.endpoints(domain)
        if for_push and domain == "docker.io":
            candidates = candidates[-1:]   # mirrors are for pulls only
        self._candidates = candidates
        self._base: str | None = None
        self._ssl: ssl.SSLContext | bool = True

    # --- plumbing ----------------------------------------------------------------
    async def base(self) -> str:
        """The first endpoint that answers ``GET /v2/`` (any status but a
        connection or TLS failure), remembered for the client's life."""
        if self._base is not None:
            return self._base
        errors = []
        for url in self._candidates:
            insecure = self.config.is_insecure(self.domain)
            sslarg: ssl.SSLContext | bool = not (insecure and url.startswith("https"))
            try:
                async with self.session.get(url + "/v2/", ssl=sslarg,
                                            allow_redirects=False) as r:
                    await r.read()
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                errors.append(f"{url}: {e or type(e).__name__}")
                continue
            self._base, self._ssl = url, sslarg
            return url
        raise Unavailable(f"registry {self.domain} not reachable: " + "; ".join(errors))

    async def request(self, method: str, path: str, scope: str | None, *,
                      headers: dict[str, str] | None = None, data=None,
                      ok: tuple[int, ...] = (200,), read_body: bool = True,
                      data_factory: Callable[[], object] | None = None,
                      ) -> aiohttp.ClientResponse:
        """One request with auth retries. ``path`` is ``/v2/...`` or an absolute
        URL (upload locations). With ``read_body=False`` the caller must release
        the response. ``data_factory`` rebuilds a streamed body for a retry."""
        base = await self.base()
        url = path if path.startswith(("http://", "https://")) else urljoin(base, path)
        for attempt in range(3):
            hdrs = dict(headers or {})
            hdrs.update(self.auth.headers(scope))
            body = data_factory() if data_factory and attempt else data
            try:
                resp = await self.session.request(method, url, headers=hdrs, data=body,
                                                  ssl=self._ssl)
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                raise ConnectionLost(f"{method} {url.split('?')[0]}: "
                                     f"{e or type(e).__name__}") from e
            if resp.status != 401:
                if resp.status not in ok:
                    await _raise_for(resp, method, url)
                if read_body:
                    await resp.read()
                return resp
            challenge = resp.headers.get("WWW-Authenticate")
            await resp.read()
            resp.release()
            if body is not None and data_factory is None and not isinstance(body, bytes):
                raise Unauthorized(f"{method} {url}: unauthorized and the body can't be re-sent")
            step = self.auth.challenge(challenge, scope, hdrs.get("Authorization"))
            if isinstance(step, TokenRequest):
                await self._fetch_token(step)
        raise Unauthorized(f"{method} {url}: still unauthorized after authenticating")

    async def _fetch_token(self, req: TokenRequest) -> None:
        try:
            async with self.session.get(req.url, headers=req.headers, ssl=self._ssl) as r:
                raw = await r.read()
                status = r.status
        except (aiohttp.ClientError, OSError) as e:
            raise Unavailable(f"token server {req.url.split('?')[0]}: {e}") from None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.auth.token_response(req, status, body)

    # --- manifests ------------------------------------------------------------------
    async def get_manifest(self, repo: str, reference: str) -> Fetched:
        """A manifest by tag or digest, checked against the digest asked for (or
        the one the registry claims in ``Docker-Content-Digest``)."""
        resp = await self.request("GET", f"/v2/{repo}/manifests/{reference}",
                                  f"repository:{repo}:pull", headers={"Accept": mf.ACCEPT})
        body = await resp.read()
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        claimed = resp.headers.get("Docker-Content-Digest")
        if ":" in reference:
            want = Digest.parse(reference)
        elif claimed:
            want = Digest.parse(claimed)
        else:
            want = Digest.of_bytes(body)
        got = Digest.of_bytes(body, want.algorithm)
        if got != want:
            raise DigestMismatch(f"manifest {repo}:{reference} from {self.domain}: "
                                 f"expected {want}, received content hashes to {got}")
        if media_type not in mf.MANIFEST_TYPES:
            media_type = mf.parse(body, None).media_type
        return Fetched(body, media_type, got)

    async def put_manifest(self, repo: str, reference: str, body: bytes,
                           media_type: str) -> Digest:
        resp = await self.request("PUT", f"/v2/{repo}/manifests/{reference}",
                                  f"repository:{repo}:pull,push", data=body,
                                  headers={"Content-Type": media_type}, ok=(200, 201, 202))
        ours = Digest.of_bytes(body)
        theirs = resp.headers.get("Docker-Content-Digest")
        if theirs and Digest.parse(theirs) != ours:
            raise DigestMismatch(f"registry stored manifest as {theirs}, we sent {ours}")
        return ours

    async def tags(self, repo: str) -> list[str]:
        out: list[str] = []
        path = f"/v2/{repo}/tags/list?n=1000"
        while path:
            resp = await self.request("GET", path, f"repository:{repo}:pull")
            doc = json.loads(await resp.read())
            out.extend(doc.get("tags") or [])
            link = resp.headers.get("Link", "")
            path = link[link.find("<") + 1:link.find(">")] if "<" in link else ""
        return out

    # --- blobs ----------------------------------------------------------------------
    async def blob_exists(self, repo: str, digest: Digest, scope: str | None = None) -> bool:
        resp = await self.request("HEAD", f"/v2/{repo}/blobs/{digest}",
                                  scope or f"repository:{repo}:pull", ok=(200, 404))
        return resp.status == 200

    async def fetch_blob(self, repo: str, desc: mf.Descriptor, store: ContentStore,
                         progress: Progress | None = None) -> BlobInfo:
        """Download into ``store``, verified; resume with Range when the
        connection breaks. A lie about size or digest raises DigestMismatch and
        keeps nothing."""
        loop = asyncio.get_running_loop()
        w = store.writer(desc.digest.algorithm)
        try:
            failures = 0
            while True:
                try:
                    await self._download_into(repo, desc, w, progress)
                    break
                except _Broken as e:
                    failures += 1
                    if failures > RETRIES:
                        raise Unavailable(f"blob {desc.digest} from {self.domain}: connection "
                                          f"failed {failures} times, last: {e}") from None
                    if isinstance(e, _Restart):   # no Range support: start over
                        w.discard()
                        w = store.writer(desc.digest.algorithm)
                    await asyncio.sleep(min(0.1 * 2 ** failures, 2))
            try:
                return await loop.run_in_executor(None, w.commit, desc.digest, desc.size)
            except DigestMismatch as e:
                raise DigestMismatch(f"blob from {self.domain}/{repo} rejected, nothing "
                                     f"kept: {e.message}") from None
        finally:
            w.discard()

    async def _download_into(self, repo: str, desc: mf.Descriptor, w,
                             progress: Progress | None) -> None:
        loop = asyncio.get_running_loop()
        offset = w.size
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            resp = await self.request("GET", f"/v2/{repo}/blobs/{desc.digest}",
                                      f"repository:{repo}:pull", headers=headers,
                                      ok=(200, 206), read_body=False)
        except ConnectionLost as e:
            raise _Broken(e.message) from None
        buf = bytearray()
        try:
            if offset and resp.status == 200:
                raise _Restart()
            async for chunk in resp.content.iter_chunked(_PIECE):
                buf += chunk
                if w.size + len(buf) > desc.size:
                    raise DigestMismatch(f"blob {desc.digest} from {self.domain}: more data "
                                         f"than the {desc.size} bytes its descriptor says")
                if len(buf) >= _PIECE:
                    data, buf = bytes(buf), bytearray()
                    await loop.run_in_executor(None, w.write, data)
                    if progress:
                        progress(len(data))
            if buf:
                await loop.run_in_executor(None, w.write, bytes(buf))
                if progress:
                    progress(len(buf))
            if w.size < desc.size:
                raise _Broken(f"connection closed at {w.size} of {desc.size} bytes")
        except (TimeoutError, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError,
                OSError) as e:
            # What we got so far is kept in the writer; the retry asks for the rest.
            if buf:
                await loop.run_in_executor(None, w.write, bytes(buf))
            raise _Broken(str(e) or type(e).__name__) from None
        finally:
            resp.release()

    async def mount(self, repo: str, digest: Digest, source: str) -> str | None:
        """Cross-repository mount; None when mounted, else an upload location."""
        scope = f"repository:{repo}:pull,push repository:{source}:pull"
        resp = await self.request(
            "POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={source}", scope,
            ok=(201, 202))
        if resp.status == 201:
            return None
        return self._location(resp)

    async def start_upload(self, repo: str) -> str:
        resp = await self.request("POST", f"/v2/{repo}/blobs/uploads/",
                                  f"repository:{repo}:pull,push", ok=(202,))
        return self._location(resp)

    def _location(self, resp: aiohttp.ClientResponse) -> str:
        loc = resp.headers.get("Location")
        if not loc:
            raise DockyardError(f"registry {self.domain} gave no upload Location")
        return urljoin(str(resp.url), loc)

    async def upload(self, repo: str, location: str, digest: Digest, size: int,
                     open_blob: Callable[[], object], chunk_size: int = 0,
                     progress: Progress | None = None) -> None:
        """Send a blob to an upload session: one PUT, or PATCHes of ``chunk_size``
        with Content-Range and a closing PUT."""
        scope = f"repository:{repo}:pull,push"
        if chunk_size <= 0 or size <= chunk_size:
            def body():
                return _file_stream(open_blob, 0, size, progress)
            await self.request("PUT", _with_digest(location, digest), scope,
                               data=body(), data_factory=body, ok=(201, 204),
                               headers={"Content-Type": "application/octet-stream",
                                        "Content-Length": str(size)})
            return
        for start, n in chunk_ranges(size, chunk_size):
            def body(start=start, n=n):
                return _file_stream(open_blob, start, n, progress)
            resp = await self.request(
                "PATCH", location, scope, data=body(), data_factory=body, ok=(202,),
                headers={"Content-Type": "application/octet-stream",
                         "Content-Range": f"{start}-{start + n - 1}",
                         "Content-Length": str(n)})
            location = self._location(resp)   # registries may move the session
        await self.request("PUT", _with_digest(location, digest), scope, data=b"",
                           ok=(201, 204))


def chunk_ranges(size: int, chunk_size: int) -> list[tuple[int, int]]:
    """(start, length) of each PATCH of a chunked upload, in order, covering
    ``size`` bytes exactly (an empty blob needs none: the closing PUT does it)."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    return [(start, min(chunk_size, size - start)) for start in range(0, size, chunk_size)]


class ConnectionLost(Unavailable):
    """The connection to the registry failed or broke (not an HTTP error status)."""


class _Broken(Exception):
    """The connection broke mid-blob: retry from where we are."""


class _Restart(_Broken):
    def __init__(self) -> None:
        super().__init__("server ignored Range")


async def _file_stream(open_blob: Callable[[], object], start: int, length: int,
                       progress: Progress | None) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    f = open_blob()
    try:
        if start:
            f.seek(start)
        left = length
        while left > 0:
            chunk = await loop.run_in_executor(None, f.read, min(_PIECE, left))
            if not chunk:
                raise DigestMismatch("local blob shorter than its descriptor")
            left -= len(chunk)
            if progress:
                progress(len(chunk))
            yield chunk
    finally:
        f.close()


def _with_digest(location: str, digest: Digest) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


async def _raise_for(resp: aiohttp.ClientResponse, method: str, url: str) -> None:
    try:
        raw = await resp.read()
    finally:
        resp.release()
    detail = ""
    try:
        errs = json.loads(raw).get("errors") or []
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errs)
    except (ValueError, AttributeError):
        detail = raw[:200].decode(errors="replace")
    msg = f"{method} {url.split('?')[0]}: {resp.status} {detail}".strip()
    if resp.status == 404:
        raise NotFound(msg)
    if resp.status == 403:
        raise Forbidden(msg)
    if resp.status == 401:
        raise Unauthorized(msg)
    if resp.status in (400, 405, 413, 416):
        raise InvalidArgument(msg)
    raise Unavailable(msg)


def new_session() -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_read=120)
    return aiohttp.ClientSession(timeout=timeout, auto_decompress=False,
                                 connector=aiohttp.TCPConnector(limit=16))


__all__ = ["ConnectionLost", "Fetched", "RegistryClient", "chunk_ranges", "new_session"]
