"""The daemon's side (asyncio): start the zygote, ask it for shims, talk to shims.

``Zygote.spawn`` runs ``python -m dockyard.shim.zygote`` as a subprocess whose
stdin is a pipe only the daemon holds: closing it (``close``) or the daemon dying
ends the zygote; shims live on. ``ShimClient(bundle)`` opens one connection to
``<bundle>/shim.sock`` per operation, so a restarted daemon just makes a new one.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from dockyard import errors
from dockyard.shim import files
from dockyard.shim.types import ExitStatus, ShimRequest

_KINDS = {
    "NotFound": errors.NotFound,
    "Conflict": errors.Conflict,
    "InvalidArgument": errors.InvalidArgument,
    "UnsafeContent": errors.UnsafeContent,
    "Unavailable": errors.Unavailable,
    "NotModified": errors.NotModified,
    "Forbidden": errors.Forbidden,
    "SystemError_": errors.SystemError_,
}
START_TIMEOUT = 60.0


def raise_for(answer: dict) -> dict:
    """An answer with "error" -> the matching dockyard error; else the answer."""
    if "error" in answer:
        cls = _KINDS.get(answer.get("kind", ""), errors.SystemError_)
        raise cls(answer["error"])
    return answer


async def _connect(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    with files.ShortPath(os.path.dirname(path)) as short:
        return await asyncio.open_unix_connection(short(os.path.basename(path)),
                                                  limit=files.MAX_LINE)


async def _request(path: str, obj: dict, timeout: float | None = 30.0) -> dict:
    reader, writer = await _connect(path)
    try:
        writer.write((json.dumps(obj) + "\n").encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise ConnectionResetError("connection closed without an answer")
        return json.loads(line)
    finally:
        writer.close()


class Zygote:
    def __init__(self, proc: asyncio.subprocess.Process, socket_path: str) -> None:
        self.proc = proc
        self.socket_path = socket_path

    @classmethod
    async def spawn(cls, exec_root: Path) -> Zygote:
        exec_root = Path(exec_root)
        exec_root.mkdir(parents=True, exist_ok=True)
        sock = str(exec_root / "zygote.sock")
        # The zygote must run this very dockyard (not whatever an interpreter
        # started afresh would find first): its package directory goes first.
        import dockyard

        here = str(Path(dockyard.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [here, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dockyard.shim.zygote", "--socket", sock,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            start_new_session=True, env=env)
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
        except TimeoutError:
            line = b""
        if line != b"ready\n":
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            raise errors.Unavailable("the shim zygote did not start "
                                     f"(exit status {proc.returncode})")
        return cls(proc, sock)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def start(self, req: ShimRequest) -> int:
        """Fork a shim for ``req``; it creates and starts the container. Returns the
        init's host pid. Errors raise dockyard errors with the runtime's message; if
        the container started but its program could not run (docker: exit code 127),
        the error is raised and ``read_exit(bundle)`` has the exit status."""
        if self.proc.returncode is not None:
            raise errors.Unavailable("the shim zygote is not running")
        try:
            answer = await _request(self.socket_path,
                                    {"op": "start", "request": req.to_json()},
                                    timeout=START_TIMEOUT)
        except (TimeoutError, OSError, ValueError) as e:
            raise errors.Unavailable(f"shim zygote: {e or type(e).__name__}") from e
        return int(raise_for(answer)["pid"])

    async def close(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        elif self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


class ShimClient:
    """Talks to ``<bundle>/shim.sock``; one connection per operation."""

    def __init__(self, bundle) -> None:
        self.bundle = os.fspath(bundle)
        self.socket_path = os.path.join(self.bundle, files.SHIM_SOCK)

    async def _call(self, op: str, **args) -> dict:
        try:
            answer = await _request(self.socket_path, {"op": op, **args})
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError) as e:
            raise errors.Conflict(f"container is not running (no shim: {e})") from None
        return raise_for(answer)

    async def start(self) -> None:
        """Run the program of a container started with ``ShimRequest(hold=True)``.
        A program that cannot run raises InvalidArgument (exit code 127 follows)."""
        await self._call("start")

    async def kill(self, signal: int, all: bool = False) -> None:
        await self._call("kill", signal=int(signal), all=bool(all))

    async def pause(self) -> None:
        await self._call("pause")

    async def resume(self) -> None:
        await self._call("resume")

    async def resize(self, height: int, width: int) -> None:
        await self._call("resize", height=int(height), width=int(width))

    async def close_stdin(self) -> None:
        await self._call("close_stdin")

    async def state(self) -> dict:
        return await self._call("state")

    async def attach(self, stdin: bool, stdout: bool, stderr: bool
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A stream to the container: tty = raw bytes both ways; no tty = docker's
        multiplexed frames from the shim, raw stdin to it. EOF on the reader = the
        container is gone; ``writer.write_eof()`` = the client's stdin ended."""
        try:
            reader, writer = await _connect(self.socket_path)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise errors.Conflict(f"container is not running (no shim: {e})") from None
        writer.write((json.dumps({"op": "attach", "stdin": bool(stdin),
                                  "stdout": bool(stdout), "stderr": bool(stderr)})
                      + "\n").encode())
        await writer.drain()
        line = await reader.readline()
        if not line:
            writer.close()
            raise errors.Conflict("container is not running")
        try:
            raise_for(json.loads(line))
        except BaseException:
            writer.close()
            raise
        return reader, writer

    async def wait(self) -> ExitStatus:
        """Block until the container exits; reconnects if the connection breaks."""
        while True:
            status = files.read_exit(self.bundle)
            if status is not None:
                return status
            try:
                answer = await _request(self.socket_path, {"op": "wait"}, timeout=None)
                if "exit_code" in answer:
                    return ExitStatus.from_json(answer)
                raise_for(answer)
            except (OSError, ValueError):
                pass
            status = files.read_exit(self.bundle)
            if status is not None:
                return status
            if not files.shim_alive(self.bundle):
                # it may have written exit.json between our two looks
                return files.read_exit(self.bundle) or \
                    ExitStatus(255, files.now_rfc3339(), error="shim died")
            await asyncio.sleep(0.01)
