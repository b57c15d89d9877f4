"""Stage 3 (``dockyard:[init]``): inside every namespace, become the container.

Order (runtime-internals.md): a session of its own; tell the parent the
namespaces exist (it runs createRuntime hooks) and wait; open the pty if a
terminal is asked for; createContainer hooks; ``rootfs.setup`` (mounts, /dev,
pivot_root, sysctl); hostname; report READY with the pty master's fd number.
Then block opening ``exec.fifo`` for writing until ``start`` opens it.

From the fifo on, the parent is gone and ``start`` listens on the fifo: this
stage writes ``0`` first ("I am here"), and if anything fails before ``execve``
(startContainer hook, missing program, security setup) it writes the error text
for ``start`` to print and exits. A successful ``execve`` closes the fifo
(close-on-exec), which ``start`` reads as success.
"""

from __future__ import annotations

import _signal as signal  # the C module: `signal` imports enum (~2 ms)
import os

from dockyard.errors import NotFound
from dockyard.runtime import hooks, syscalls
from dockyard.runtime.process.channel import Channel, Msg

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def reset_signals() -> None:
    """Undo what the Python runtime changed: exec keeps ignored signals ignored."""
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM,
                signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD, signal.SIGWINCH):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def preload(spec: dict) -> None:
    """Import now what runs after pivot_root (or setns into the container's mounts).

    Once the root has changed the host's Python library directories are out of
    reach, so every module the last steps import lazily must already be loaded.
    Called in the parent before forking: in a new user namespace the init's uid
    may not even be allowed to read the interpreter's library directory.
    """
    # security.validate/preload imported the seccomp compiler already, and only for
    # a spec with linux.seccomp: a plain container never loads it.
    from dockyard.runtime import rootfs, security  # noqa: F401

    if (spec.get("process") or {}).get("rlimits"):
        import resource  # noqa: F401 - security.rlimits

    if (spec.get("process") or {}).get("terminal"):
        import struct  # noqa: F401
        import termios  # noqa: F401

        from dockyard.runtime import console  # noqa: F401
    if any(m.get("type") == "cgroup" for m in spec.get("mounts") or []):
        import dockyard.runtime.rootfs.cgroupfs  # noqa: F401

    if hooks.has(spec, "startContainer") or hooks.has(spec, "createContainer"):
        import subprocess  # noqa: F401
    if any("tmpcopyup" in (m.get("options") or []) for m in spec.get("mounts") or []):
        import shutil  # noqa: F401 - rootfs.mounts copies the directory up


def run(launch, chan: Channel) -> None:
    from dockyard.runtime.process import modules

    reset_signals()
    os.setsid()
    spec = launch.spec
    process = spec.get("process") or {}
    state: dict = {}
    if launch.handshake:
        chan.send(Msg.PRE_ROOTFS)
        state = chan.wait_for(Msg.CONTINUE, "parent")["state"]

    hooks.run_phase(spec, "createContainer", state)

    # The cwd is the bundle (the intermediate went there before any id change):
    # relative rootfs and bind sources resolve from it even when the paths above
    # are closed to a user namespace's root.
    state_dir_fd = launch.state_dir_fd
    modules.rootfs().setup(spec, launch.rootfs_arg, no_pivot=launch.no_pivot,
                           console_path=None)
    if spec.get("hostname"):
        syscalls.sethostname(spec["hostname"])
    if spec.get("domainname"):
        syscalls.setdomainname(spec["domainname"])
    master = _terminal_inside(process) if process.get("terminal") else -1
    chan.send(Msg.READY, pty=master)
    chan.close()

    fifo = os.open("exec.fifo", os.O_WRONLY | os.O_CLOEXEC, dir_fd=state_dir_fd)
    os.close(state_dir_fd)
    os.write(fifo, FIFO_HELLO)
    try:
        _exec_process(spec, state, launch.seccomp_cache)
    except ProcessMissing as e:
        # The container started but its program could not: like a shell, say so on
        # the container's stderr and exit 127; `start` only warns (see start.py).
        _report(fifo, FIFO_WARN, e.message)
        if e.code:
            _say(f"dockyard-runtime: {e.message}\n")
        os._exit(e.code)
    except BaseException as e:  # reported to `start` through the fifo
        _report(fifo, FIFO_ERROR, getattr(e, "message", None) or str(e) or type(e).__name__)
        os._exit(1)


# exec.fifo protocol (init -> start): FIFO_HELLO once the fifo is open, then nothing
# (close on exec = started), or one of these prefixes and a message.
FIFO_HELLO = b"0"
FIFO_ERROR = b"!"   # start fails: a hook or the security setup failed
FIFO_WARN = b"?"    # start succeeds with a warning: no process, or exec failed


class ProcessMissing(NotFound):
    """The program could not be executed (or there is none): exit ``code``."""

    def __init__(self, message: str, code: int = 127) -> None:
        super().__init__(message)
        self.code = code


def _report(fifo: int, kind: bytes, msg: str) -> None:
    try:
        os.write(fifo, kind + msg.encode(errors="replace")[:4000])
    except OSError:
        pass


def _say(text: str) -> None:
    try:
        os.write(2, text.encode(errors="replace"))
    except OSError:
        pass


def _terminal_inside(process: dict) -> int:
    """Open the pty in the container's own devpts (after pivot_root, as runc does),
    so ``tty`` says /dev/pts/N and window-size ioctls work; the slave becomes the
    controlling terminal and stdio, and is bound over /dev/console. Returns the
    master (close-on-exec; the parent takes a copy with pidfd_getfd)."""
    from dockyard.runtime import console

    master, slave_path = console.open_pty("/dev/ptmx")
    slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    size = process.get("consoleSize")
    if size:
        console.set_size(master, size["height"], size["width"])
    try:
        if not os.path.exists("/dev/console"):
            os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        syscalls.mount(slave_path, "/dev/console", None, syscalls.MS_BIND)
    except OSError:
        pass  # a read-only /dev without a console node: the pty still is stdio
    console.become_controlling_tty(slave)
    os.close(slave)
    return master


def _exec_process(spec: dict, state: dict, cache_dir: str | None) -> None:
    from dockyard.runtime.process import modules

    process = spec.get("process")
    if not process:
        raise ProcessMissing("the container has no process to run (config.json has no "
                             "process); it stopped", code=0)
    state = dict(state, status="running")
    hooks.run_phase(spec, "startContainer", state)
    env = env_dict(process.get("env") or [])
    cwd = process.get("cwd", "/")
    try:
        os.chdir(cwd)
    except OSError as e:
        raise OSError(e.errno, f"cannot change to process.cwd {cwd!r}: {e.strerror}") \
            from None
    exe = find_executable(process["args"][0], env.get("PATH", DEFAULT_PATH))
    linux = spec.get("linux") or {}
    modules.security().finalize_process(
        process, seccomp=linux.get("seccomp"),
        no_new_privileges=bool(process.get("noNewPrivileges")), cache_dir=cache_dir)
    try:
        os.execve(exe, process["args"], env)
    except OSError as e:
        raise ProcessMissing(f'exec: "{process["args"][0]}": {e.strerror}',
                             code=126 if e.errno == 13 else 127) from None


def env_dict(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def find_executable(name: str, path: str) -> str:
    """Resolve ``process.args[0]`` like execvp, with a runc-like error when missing."""
    if "/" in name:
        if os.path.exists(name):
            return name
        raise ProcessMissing(f'exec: "{name}": no such file or directory')
    for d in path.split(":"):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ProcessMissing(f'exec: "{name}": executable file not found in $PATH')
