"""What the shim asks of the OCI runtime: create+start (in a child), kill, pause,
resume, delete, and whether the kernel OOM-killed the container.

``Dockyard`` calls dockyard's runtime in-process (its modules are already imported
by the zygote, so this costs no interpreter start); ``External`` runs a
runc-compatible binary with ``--root``. Both are used from the shim's process
(blocking calls, no asyncio); ``launch`` runs in a short-lived child of the shim,
with the container's stdio on fds 0-2, so the pages it touches are never the
shim's (see ``monitor``).
"""

from __future__ import annotations

import os

DEFAULT_ROOT = "/run/dockyard-runtime"


class Launched:
    __slots__ = ("pid", "pty_master")

    def __init__(self, pid: int, pty_master: int = -1) -> None:
        self.pid = pid
        self.pty_master = pty_master


class Dockyard:
    """dockyard's own runtime, called in-process."""

    def __init__(self, root: str, container_id: str, bundle: str) -> None:
        from dockyard.runtime.state import StateStore

        self.store = StateStore(root or DEFAULT_ROOT)
        self.id = container_id
        self.bundle = bundle

    def launch(self, tty: bool, warn, start: bool = True) -> Launched:
        """Create (and unless ``start`` is False, start) the container."""
        from dockyard.runtime.container import create as createmod
        from dockyard.runtime.container import delete as deletemod
        from dockyard.runtime.container import start as startmod
        from dockyard.runtime.process import warm_cgroup_migration

        warm_cgroup_migration()
        _check_terminal(self.bundle, tty)
        opts = createmod.CreateOptions(self.bundle, relay_tty=tty)
        c, master = createmod.create(self.store, self.id, opts)
        if not start:
            return Launched(c.pid, master)
        try:
            startmod.start(self.store, self.id, warn=warn)
        except BaseException:
            if master >= 0:
                os.close(master)
            try:
                deletemod.delete(self.store, self.id, force=True)
            except Exception:
                pass
            raise
        return Launched(c.pid, master)

    def start(self, warn) -> None:
        from dockyard.runtime.container import start as startmod

        startmod.start(self.store, self.id, warn=warn)

    def kill(self, sig: int, all_processes: bool = False) -> None:
        from dockyard.runtime.container import kill

        kill.kill(self.store, self.id, sig, all_processes=all_processes)

    def pause(self) -> None:
        from dockyard.runtime.container import pause

        pause.pause(self.store, self.id)

    def resume(self) -> None:
        from dockyard.runtime.container import pause

        pause.resume(self.store, self.id)

    def delete(self) -> None:
        from dockyard.runtime.container import delete

        delete.delete(self.store, self.id, force=True)

    def oom_killed(self) -> bool:
        """The memory cgroup counted an OOM kill (v1 memory.oom_control, v2 memory.events)."""
        from dockyard.runtime.container.delete import load_manager

        try:
            manager = load_manager(self.store.load(self.id))
        except Exception:
            return False
        if manager is None:
            return False
        return oom_kills(manager.paths) > 0


def oom_kills(paths: dict) -> int:
    candidates = []
    if paths.get("memory"):
        candidates.append(os.path.join(paths["memory"], "memory.oom_control"))
    if "" in paths:
        candidates.append(os.path.join(paths[""], "memory.events"))
    for path in candidates:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return 0


def _check_terminal(bundle: str, tty: bool) -> None:
    from dockyard.errors import InvalidArgument
    from dockyard.runtime import fastjson

    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            spec = fastjson.loads(f.read())
        terminal = bool((spec.get("process") or {}).get("terminal"))
    except (OSError, ValueError, AttributeError):
        return  # create reports a missing or bad config.json with its own words
    if terminal != tty:
        raise InvalidArgument(f"shim request tty={tty} but config.json has "
                              f"process.terminal={terminal}")


class External:
    """A runc-compatible binary (runc, crun, dockyard-runtime as a program)."""

    def __init__(self, binary: str, root: str, container_id: str, bundle: str) -> None:
        self.binary = binary
        self.root = root
        self.id = container_id
        self.bundle = bundle

    def _argv(self, *args: str) -> list[str]:
        base = [self.binary]
        if self.root:
            base += ["--root", self.root]
        return [*base, *args]

    def _run(self, *args: str, stdio: tuple[int, int, int] | None = None) -> None:
        """Run a command; errors from its stderr, or (when the container inherits our
        stdio, ``create``) from its ``--log`` file in runc's JSON format."""
        if stdio is None:
            code, err = run_tool(self._argv(*args))
        else:
            log = os.path.join(self.bundle, ".runtime-log.json")
            argv = self._argv(*args)
            argv[1:1] = ["--log", log, "--log-format", "json"]
            code, _ = run_tool(argv, stdio)
            err = _json_log_errors(log)
        if code != 0:
            from dockyard.errors import SystemError_

            raise SystemError_(_last_error(err) or
                               f"{os.path.basename(self.binary)} {args[0]} failed "
                               f"(exit status {code})")

    def launch(self, tty: bool, warn, start: bool = True) -> Launched:
        _check_terminal(self.bundle, tty)
        pid_file = os.path.join(self.bundle, ".init.pid.runtime")
        master = -1
        if tty:
            master = self._create_with_console(pid_file)
        else:
            self._run("create", "--bundle", self.bundle, "--pid-file", pid_file, self.id,
                      stdio=(0, 1, 2))
        try:
            from dockyard.shim.files import read_pid

            pid = read_pid(pid_file)
            os.unlink(pid_file)
            if start:
                self._run("start", self.id)
        except BaseException:
            if master >= 0:
                os.close(master)
            try:
                self.delete()
            except Exception:
                pass
            raise
        return Launched(pid, master)

    def _create_with_console(self, pid_file: str) -> int:
        import socket
        import tempfile

        tmp = tempfile.mkdtemp(prefix="dyshim-")
        path = os.path.join(tmp, "console.sock")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
                listener.bind(path)
                listener.listen(1)
                listener.settimeout(30)
                self._run("create", "--bundle", self.bundle, "--pid-file", pid_file,
                          "--console-socket", path, self.id)
                conn, _ = listener.accept()
                with conn:
                    _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
                if not fds:
                    raise OSError("the runtime sent no terminal over the console socket")
                return fds[0]
        finally:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            os.rmdir(tmp)

    def start(self, warn) -> None:
        self._run("start", self.id)

    def kill(self, sig: int, all_processes: bool = False) -> None:
        self._run("kill", *(["--all"] if all_processes else []), self.id, str(sig))

    def pause(self) -> None:
        self._run("pause", self.id)

    def resume(self) -> None:
        self._run("resume", self.id)

    def delete(self) -> None:
        self._run("delete", "--force", self.id)

    def oom_killed(self) -> bool:
        return False


def run_tool(argv: list[str], stdio: tuple[int, int, int] | None = None
             ) -> tuple[int, bytes]:
    """Run a program, wait, return (exit status, its stderr). No subprocess module:
    the shim must not import anything after the fork. ``stdio`` = fds for 0,1,2
    (default: /dev/null in, /dev/null out, stderr captured)."""
    r, w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        targets = (null, null, w) if stdio is None else stdio
        actions = [(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(targets)]
        pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions)
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
        os.close(null)
    err = b""
    try:
        while chunk := os.read(r, 65536):
            if len(err) < 65536:
                err += chunk
    finally:
        os.close(r)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    return os.waitstatus_to_exitcode(status), err


def _json_log_errors(path: str) -> bytes:
    """The ``msg`` of error records in a runc ``--log-format json`` file (then removed)."""
    import json

    out = []
    try:
        with open(path, "rb") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and rec.get("level") in ("error", "fatal"):
                    out.append(str(rec.get("msg", "")))
        os.unlink(path)
    except FileNotFoundError:
        pass
    return "\n".join(out).encode()


def _last_error(err: bytes) -> str:
    lines = [ln.strip() for ln in err.decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def for_request(req) -> Dockyard | External:
    """The runtime for a ShimRequest (or its JSON form)."""
    if isinstance(req, dict):
        runtime, root, cid, bundle = (req["runtime"], req["runtime_root"],
                                      req["container_id"], req["bundle"])
    else:
        runtime, root, cid, bundle = req.runtime, req.runtime_root, req.container_id, \
            req.bundle
    if runtime in ("", "dockyard"):
        return Dockyard(root, cid, bundle)
    return External(runtime, root, cid, bundle)
