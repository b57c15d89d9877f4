"""``docker exec``: exec instances, their processes and their events.

An exec instance lives in the daemon's memory (as in dockerd): created by
``POST /containers/{id}/exec``, started once, inspected until its container goes.
Starting builds an OCI process from the container's own (``config.json``'s
``process``: env, cwd, user, capabilities, rlimits...) with the exec's
overrides, resolves a ``User`` name inside the container, and runs it through
``dockyard-runtime exec`` (``execproc.py``). Events are dockerd's:
``exec_create: <cmd>``, ``exec_start: <cmd>`` and ``exec_die`` (``execID``,
``exitCode``) on the container, with the container's name, image and labels.

The service knows containers only through :class:`ExecTarget` (what exec needs
from one) and a lookup that makes one from a reference, so it runs against the
engine's ContainerService in the daemon and against bare runtime containers in
tests. Health probes use :meth:`ExecService.probe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound

if TYPE_CHECKING:
    from dockyard.daemon.events import EventBus
    from dockyard.engine.execproc import ExecProcess, Sink

# Finished exec instances kept per container for inspect (dockerd keeps them all
# until the container goes; a bound keeps a long-lived container's memory flat).
KEEP_FINISHED = 128


@dataclass(frozen=True)
class ExecTarget:
    """What exec needs to know about one container."""

    id: str
    name: str
    status: str                      # created|running|paused|restarting|exited|...
    pid: int                         # its init's host pid
    bundle: Path                     # config.json with the container's process
    attributes: dict[str, str] = field(default_factory=dict)   # for events
    runtime: tuple[str, ...] = ()    # runtime argv; () = dockyard-runtime

    @classmethod
    def from_record(cls, record: Any) -> ExecTarget:
        """From the engine's ContainerRecord."""
        config = record.config or {}
        attrs = {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}
        attrs["image"] = record.image_ref or config.get("Image", "") or record.image_id
        attrs["name"] = record.name.lstrip("/")
        return cls(record.id, record.name.lstrip("/"), record.state.status,
                   record.state.pid, Path(record.bundle), attrs)

    def check_running(self) -> None:
        """dockerd's refusals, word for word."""
        if self.status == "paused":
            raise Conflict(f"Container {self.name or self.id} is paused, unpause the "
                           "container before exec")
        if self.status == "restarting":
            raise Conflict(f"Container {self.id} is restarting, wait until the container "
                           "is running")
        if self.status != "running" or self.pid <= 0:
            raise Conflict(f"Container {self.id} is not running")


@dataclass(frozen=True)
class ExecConfig:
    """The create body, checked."""

    cmd: tuple[str, ...]
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    privileged: bool = False
    tty: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    detach_keys: str = ""
    console_size: tuple[int, int] | None = None

    @classmethod
    def from_body(cls, body: Any) -> ExecConfig:
        if not isinstance(body, dict):
            raise InvalidArgument("exec config must be a JSON object")
        cmd = body.get("Cmd")
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd:
            raise InvalidArgument("No exec command specified")
        env = body.get("Env") or []
        for name, value, kind in (("Cmd", cmd, list), ("Env", env, list)):
            if not isinstance(value, kind) or not all(isinstance(x, str) for x in value):
                raise InvalidArgument(f"{name} must be an array of strings")
        for text in ("WorkingDir", "User", "DetachKeys"):
            if not isinstance(body.get(text) or "", str):
                raise InvalidArgument(f"{text} must be a string")
        working_dir = body.get("WorkingDir") or ""
        if working_dir and not working_dir.startswith("/"):
            raise InvalidArgument(f"the working directory '{working_dir}' is invalid, it "
                                  "needs to be an absolute path")
        keys = body.get("DetachKeys") or ""
        if keys:
            from dockyard.engine.detachkeys import to_bytes

            to_bytes(keys)
        return cls(tuple(cmd), tuple(env), working_dir, body.get("User") or "",
                   bool(body.get("Privileged")), bool(body.get("Tty")),
                   bool(body.get("AttachStdin")), bool(body.get("AttachStdout")),
                   bool(body.get("AttachStderr")), keys, _console_size(body))

    @property
    def command_line(self) -> str:
        """dockerd's event text: entrypoint, a space, the arguments joined."""
        return self.cmd[0] + " " + " ".join(self.cmd[1:])


def _console_size(body: dict) -> tuple[int, int] | None:
    size = body.get("ConsoleSize")
    if size is None:
        return None
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(x, int) and 0 <= x < 65536 for x in size)):
        raise InvalidArgument("ConsoleSize must be [height, width]")
    return (size[0], size[1]) if size[0] and size[1] else None


@dataclass
class ExecRecord:
    id: str
    container_id: str
    config: ExecConfig
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    process: ExecProcess | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    size: tuple[int, int] | None = None     # a resize that came before the pty

    def inspect(self) -> dict[str, Any]:
        if self.process is not None and not self.pid:
            self.pid = self.process.pid
        pc: dict[str, Any] = {"tty": self.config.tty, "entrypoint": self.config.cmd[0],
                              "arguments": list(self.config.cmd[1:]),
                              "privileged": self.config.privileged}
        if self.config.user:
            pc["user"] = self.config.user
        return {"CanRemove": False, "ContainerID": self.container_id,
                "DetachKeys": self.config.detach_keys, "ExitCode": self.exit_code,
                "ID": self.id, "OpenStderr": self.config.attach_stderr,
                "OpenStdin": self.config.attach_stdin,
                "OpenStdout": self.config.attach_stdout, "ProcessConfig": pc,
                "Running": self.running, "Pid": self.pid}


Lookup = Callable[[str], Awaitable[ExecTarget]]


class ExecService:
    """Every exec instance of one daemon."""

    def __init__(self, lookup: Lookup, runtime_root: str, events: EventBus | None = None,
                 runtime: Iterable[str] | None = None,
                 persist: Callable[[str, list[str]], Awaitable[None]] | None = None,
                 work_root: str | None = None) -> None:
        self._lookup = lookup
        self.work_root = work_root   # private per-exec directories (None: temp dir)
        self._persist = persist   # keeps the record's ExecIDs in step (inspect shows them)
        self.runtime_root = runtime_root
        self.events = events
        self._runtime = list(runtime) if runtime else None
        self._execs: dict[str, ExecRecord] = {}
        self._by_container: dict[str, list[str]] = {}
        self._background: set[asyncio.Task] = set()

    # --- registry ---------------------------------------------------------------
    def get(self, exec_id: str) -> ExecRecord:
        rec = self._execs.get(exec_id)
        if rec is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return rec

    def inspect(self, exec_id: str) -> dict[str, Any]:
        return self.get(exec_id).inspect()

    def ids_for(self, container_id: str) -> list[str]:
        """The container's exec ids (inspect's ``ExecIDs``; None in docker when empty)."""
        return list(self._by_container.get(container_id, ()))

    def forget_container(self, container_id: str) -> None:
        """The container is gone: so are its exec instances."""
        for exec_id in self._by_container.pop(container_id, []):
            self._execs.pop(exec_id, None)

    def _register(self, rec: ExecRecord) -> None:
        self._execs[rec.id] = rec
        ids = self._by_container.setdefault(rec.container_id, [])
        ids.append(rec.id)
        finished = [i for i in ids if self._execs[i].exit_code is not None]
        for old in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            ids.remove(old)
            self._execs.pop(old, None)

    def _unregister(self, rec: ExecRecord) -> None:
        self._execs.pop(rec.id, None)
        ids = self._by_container.get(rec.container_id)
        if ids and rec.id in ids:
            ids.remove(rec.id)

    async def target(self, ref: str) -> ExecTarget:
        """The container ``ref`` names, as exec (and stats/top) see it."""
        return await self._lookup(ref)

    def emit(self, target: ExecTarget, action: str, **extra: str) -> None:
        """A container event with the container's attributes (name, image, labels)."""
        self._emit(target, action, **extra)

    def _emit(self, target: ExecTarget, action: str, **extra: str) -> None:
        if self.events is None:
            return
        attrs = dict(target.attributes)
        attrs.update(extra)
        self.events.emit("container", action, target.id, sorted(attrs.items()))

    # --- create / start ---------------------------------------------------------
    async def create(self, ref: str, body: Any) -> str:
        config = ExecConfig.from_body(body)
        target = await self._lookup(ref)
        target.check_running()
        rec = ExecRecord(secrets.token_hex(32), target.id, config)
        self._register(rec)
        self._emit(target, f"exec_create: {config.command_line}", execID=rec.id)
        if self._persist is not None:
            with contextlib.suppress(DockyardError):
                await self._persist(target.id, self.ids_for(target.id))
        return rec.id

    async def check_startable(self, exec_id: str) -> tuple[ExecRecord, ExecTarget]:
        """The refusals a start answers with an HTTP error (before any stream)."""
        rec = self.get(exec_id)
        if rec.running:
            raise Conflict(f"Error: Exec command {exec_id} is already running")
        if rec.started:
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        target = await self._lookup(rec.container_id)
        target.check_running()
        return rec, target

    async def start(self, exec_id: str, *, detach: bool = False,
                    stdin: asyncio.StreamReader | None = None, sink: Sink | None = None,
                    console_size: tuple[int, int] | None = None) -> int | None:
        """Run the exec. Attached: copy ``stdin`` in and output to ``sink`` (stream 1
        or 2; a terminal's output is all 1) and return the exit code, recorded
        before this returns (clients inspect right after the stream ends); None
        when the user typed the detach keys. Detached: return at once."""
        rec, target = await self.check_startable(exec_id)
        if rec.started:   # another start won the race during the lookup
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        rec.started = True
        rec.running = True
        self._emit(target, f"exec_start: {rec.config.command_line}", execID=rec.id)
        try:
            from dockyard.engine.execspec import build_process

            process = build_process(rec.config, target, console_size)
            proc = await self._spawn(target, process, rec.config, attached=not detach)
            if rec.size is not None:
                proc.resize(*rec.size)
        except DockyardError as e:
            await self._failed(rec, target, e.message, sink)
            return rec.exit_code
        except OSError as e:
            await self._failed(rec, target, f"exec failed: {e}", sink)
            return rec.exit_code
        rec.process = proc
        if detach:
            self._spawn_background(self._finish(rec, target, proc, None))
            return None
        return await self._attached(rec, target, proc, stdin, sink)

    async def _spawn(self, target: ExecTarget, process: dict, config: ExecConfig, *,
                     attached: bool) -> ExecProcess:
        from dockyard.engine.execproc import ExecProcess, runtime_argv

        runtime = list(target.runtime) or self._runtime or runtime_argv()
        return await ExecProcess.spawn(
            runtime, self.runtime_root, target.id, process,
            stdin=attached and config.attach_stdin,
            output=attached and (config.attach_stdout or config.attach_stderr),
            work_root=self.work_root)

    async def _failed(self, rec: ExecRecord, target: ExecTarget, message: str,
                      sink: Sink | None) -> None:
        from dockyard.engine.execproc import RUNTIME_FAILED

        if sink is not None:
            with contextlib.suppress(Exception):
                await sink(1, (message + "\r\n").encode())
        self._finished(rec, target, RUNTIME_FAILED)

    def _finished(self, rec: ExecRecord, target: ExecTarget, code: int) -> None:
        rec.exit_code = code
        rec.running = False
        rec.done.set()
        self._emit(target, "exec_die", execID=rec.id, exitCode=str(code))

    async def _attached(self, rec: ExecRecord, target: ExecTarget, proc: ExecProcess,
                        stdin: asyncio.StreamReader | None, sink: Sink | None) -> int | None:
        cfg = rec.config

        async def out(stream: int, data: bytes) -> None:
            if sink is not None and (cfg.attach_stdout if stream == 1 else cfg.attach_stderr):
                await sink(stream, data)

        detached = asyncio.Event()
        feeder = None
        if stdin is not None and cfg.attach_stdin:
            feeder = asyncio.ensure_future(self._copy_stdin(proc, stdin, cfg, detached))
        pump = asyncio.ensure_future(proc.pump(out))
        stop = asyncio.ensure_future(detached.wait())
        try:
            await asyncio.wait({pump, stop}, return_when=asyncio.FIRST_COMPLETED)
            if detached.is_set() and not pump.done():
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
                self._emit(target, "exec_detach", execID=rec.id)
                self._spawn_background(self._finish(rec, target, proc, None))
                return None
            pump.result()
        except BaseException:
            for task in (pump, stop):
                task.cancel()
            # The caller went away: let the process finish on its own, recorded.
            self._spawn_background(self._finish(rec, target, proc, None))
            raise
        finally:
            stop.cancel()
            if feeder is not None:
                feeder.cancel()
                await asyncio.gather(feeder, return_exceptions=True)
        return await self._finish(rec, target, proc, None, pumped=True)

    async def _copy_stdin(self, proc: ExecProcess, stdin: asyncio.StreamReader,
                          cfg: ExecConfig, detached: asyncio.Event) -> None:
        from dockyard.engine.detachkeys import DEFAULT, DetachScanner, to_bytes

        scanner = DetachScanner(to_bytes(cfg.detach_keys or DEFAULT)) if cfg.tty else None
        try:
            while True:
                data = await stdin.read(32768)
                if not data:
                    break
                if scanner is not None:
                    data = scanner.feed(data)
                if data:
                    await proc.write_stdin(data)
                if scanner is not None and scanner.detached:
                    detached.set()
                    return
        except (ConnectionError, OSError):
            pass
        proc.close_stdin()

    async def _finish(self, rec: ExecRecord, target: ExecTarget, proc: ExecProcess,
                      sink: Sink | None, *, pumped: bool = False) -> int:
        try:
            if not pumped:
                proc.close_stdin()
                await proc.pump(sink)
            code = await proc.wait()
        except asyncio.CancelledError:
            proc.kill()
            code = await asyncio.shield(proc.wait())
            rec.pid = proc.pid
            proc.close()
            self._finished(rec, target, code)
            raise
        rec.pid = proc.pid
        proc.close()
        self._finished(rec, target, code)
        return code

    def _spawn_background(self, coro: Awaitable[int]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        rec = self.get(exec_id)
        if rec.exit_code is not None:
            raise NotFound(f"no such exec: exec {exec_id} is not running")
        # Before the start (the docker CLI resizes as soon as its stream is up, which
        # can be before the process runs): kept and applied once the pty exists.
        rec.size = (height, width)
        if rec.process is not None:    # else applied once the pty exists
            rec.process.resize(height, width)

    async def wait(self, exec_id: str) -> int | None:
        rec = self.get(exec_id)
        await rec.done.wait()
        return rec.exit_code

    # --- probes (health checks) -------------------------------------------------
    async def probe(self, target: ExecTarget, cmd: list[str], timeout: float,
                    limit: int = 4096) -> tuple[int, str]:
        """Run ``cmd`` in the container as a health probe: (exit code, output).

        Registered as an exec while it runs (events as dockerd shows them), then
        forgotten. Past ``timeout`` the process is killed and the code is -1."""
        config = ExecConfig(tuple(cmd), attach_stdout=True, attach_stderr=True)
        rec = ExecRecord(secrets.token_hex(32), target.id, config)
        self._register(rec)
        self._emit(target, f"exec_create: {config.command_line}", execID=rec.id)
        buf = bytearray()
        truncated = False

        async def collect(stream: int, data: bytes) -> None:
            nonlocal truncated
            room = limit - len(buf)
            if len(data) > room:
                truncated = True
            buf.extend(data[:max(room, 0)])

        try:
            target.check_running()
            task = asyncio.ensure_future(self.start(rec.id, sink=collect))
            try:
                code = await asyncio.wait_for(asyncio.shield(task), timeout)
            except TimeoutError:
                if rec.process is not None:
                    rec.process.kill(signal.SIGKILL)
                await asyncio.gather(task, return_exceptions=True)
                return -1, f"Health check exceeded timeout ({go_duration(timeout)})"
            text = buf.decode(errors="replace") + ("..." if truncated else "")
            return (code if code is not None else -1), text
        except DockyardError as e:
            return -1, e.message
        finally:
            self._unregister(rec)

    async def close(self) -> None:
        """Daemon shutdown: end running execs (they need not outlive the daemon)."""
        for rec in list(self._execs.values()):
            if rec.running and rec.process is not None:
                rec.process.kill()
        tasks = list(self._background)
        if tasks:
            await asyncio.wait(tasks, timeout=5)


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String() for the durations docker prints (30s, 1m0s, 500ms)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{_trim(ns / size)}{unit}"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    secs = _trim(rest / 1e9)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


# --- one service per daemon ---------------------------------------------------------

def _runtime_of(backend: Any, record: Any) -> str:
    """A runc-compatible binary the container runs with ("" = dockyard-runtime)."""
    try:
        from dockyard.engine.lifecycle import runtime_for
    except ImportError:
        return ""
    try:
        name = runtime_for(backend, record)
    except DockyardError:
        return ""
    return "" if name in ("", "dockyard", "dockyard-runtime") else name


_SERVICES: dict[int, tuple[Any, ExecService]] = {}


def exec_service(backend: Any) -> ExecService:
    """The daemon's ExecService (made on first use; keyed by the backend)."""
    found = _SERVICES.get(id(backend))
    if found is not None and found[0] is backend:
        return found[1]

    async def lookup(ref: str) -> ExecTarget:
        record = await backend.run(backend.containers.get, ref)
        target = ExecTarget.from_record(record)
        runtime = _runtime_of(backend, record)
        if runtime:
            from dataclasses import replace

            target = replace(target, runtime=(runtime,))
        return target

    async def persist(container_id: str, ids: list[str]) -> None:
        await backend.run(lambda: backend.containers.update_state(container_id,
                                                                   exec_ids=ids))

    from dockyard.engine.execproc import clear_work_root

    work_root = str(Path(backend.exec_root) / "execs")
    clear_work_root(work_root)
    svc = ExecService(lookup, str(Path(backend.exec_root) / "runtime"), backend.events,
                      persist=persist, work_root=work_root)
    _SERVICES[id(backend)] = (backend, svc)
    return svc


__all__ = ["KEEP_FINISHED", "ExecConfig", "ExecRecord", "ExecService", "ExecTarget",
           "exec_service", "go_duration"]
