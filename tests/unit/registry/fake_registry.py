"""A misbehaving registry for client tests: lies about digests, breaks connections,
ignores Range, asks for tokens. Each behaviour is a switch on :class:`Fake`."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Fake:
    blobs: dict[str, bytes] = field(default_factory=dict)       # digest -> bytes served
    # reference -> (body, media type, Docker-Content-Digest header)
    manifests: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)
    break_after: int | None = None      # close the connection after this many bytes ...
    breaks: int = 0                     # ... this many times
    ignore_range: bool = False
    token_user: tuple[str, str] | None = None   # require a Bearer token got with these
    ranges_seen: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/v2/{tail:.*}", self.handle)
        app.router.add_get("/token", self.token)
        return app

    def _authorized(self, request: web.Request) -> bool:
        if self.token_user is None:
            return True
        return request.headers.get("Authorization") == "Bearer good-token"

    async def token(self, request: web.Request) -> web.Response:
        want = "Basic " + base64.b64encode(":".join(self.token_user).encode()).decode()
        if request.headers.get("Authorization") != want:
            return web.json_response({"details": "bad creds"}, status=401)
        assert request.query.get("service") == "fake"
        assert request.query.get("scope", "").startswith("repository:")
        return web.json_response({"token": "good-token", "expires_in": 300})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        if not self._authorized(request):
            host = request.host
            scope = "repository:x:pull"
            return web.json_response(
                {"errors": [{"code": "UNAUTHORIZED", "message": "auth"}]}, status=401,
                headers={"WWW-Authenticate":
                         f'Bearer realm="http://{host}/token",service="fake",scope="{scope}"'})
        tail = request.match_info["tail"]
        if tail == "":
            return web.json_response({})
        if "/manifests/" in tail:
            ref = tail.rsplit("/", 1)[1]
            if ref not in self.manifests:
                return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN",
                                                      "message": "no"}]}, status=404)
            body, mt, dg = self.manifests[ref]
            return web.Response(body=body, headers={"Content-Type": mt,
                                                    "Docker-Content-Digest": dg})
        if "/blobs/" in tail:
            return await self._blob(request, tail.rsplit("/", 1)[1])
        return web.Response(status=404)

    async def _blob(self, request: web.Request, digest: str) -> web.StreamResponse:
        data = self.blobs.get(digest)
        if data is None:
            return web.Response(status=404)
        start = 0
        rng = request.headers.get("Range")
        if rng:
            self.ranges_seen.append(rng)
        if rng and not self.ignore_range:
            start = int(rng.split("=")[1].split("-")[0])
        body = data[start:]
        resp = web.StreamResponse(status=206 if start else 200)
        resp.content_length = len(body)
        resp.content_type = "application/octet-stream"
        await resp.prepare(request)
        if self.breaks > 0 and self.break_after is not None and len(body) > self.break_after:
            self.breaks -= 1
            await resp.write(body[:self.break_after])
            request.transport.close()
            return resp
        await resp.write(body)
        await resp.write_eof()
        return resp


def manifest_entry(body: bytes, media_type: str, digest: str | None = None
                   ) -> tuple[bytes, str, str]:
    import hashlib
    return body, media_type, digest or "sha256:" + hashlib.sha256(body).hexdigest()


__all__ = ["Fake", "manifest_entry"]
