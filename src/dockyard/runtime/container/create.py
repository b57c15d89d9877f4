"""``create``: validate the bundle, reserve the id, launch the init, record the state.

Everything a bad input can trip on is checked before a process or cgroup exists
(config, rootfs, security settings, resources, namespace paths); after that,
any failure kills what was started, removes the cgroup and the state directory,
so a failed create leaves nothing behind.
"""

from __future__ import annotations

import os
import time

from dockyard.errors import InvalidArgument
from dockyard.runtime import spec as specmod
from dockyard.runtime import state as st
from dockyard.runtime.process import modules


class CreateOptions:
    __slots__ = ("bundle", "console_socket", "no_pivot", "pid_file", "relay_tty")

    def __init__(self, bundle: str, pid_file: str | None = None,
                 console_socket: str | None = None, no_pivot: bool = False,
                 relay_tty: bool = False) -> None:
        self.bundle = bundle
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.no_pivot = no_pivot
        self.relay_tty = relay_tty


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def create(store: st.StateStore, container_id: str, opts: CreateOptions
           ) -> tuple[st.ContainerState, int]:
    """Create the container; return its state and the pty master (-1 if none).

    The master is returned only when ``opts.relay_tty`` (a foreground ``run -t``
    without console socket relays it); otherwise it went to the console socket.
    """
    from dockyard.runtime import syscalls
    from dockyard.runtime.process import stage_parent

    st.validate_id(container_id)
    bundle = os.path.abspath(opts.bundle)
    spec, rootfs = specmod.load_bundle(bundle)
    process = spec.get("process") or {}
    if process.get("terminal") and not opts.console_socket and not opts.relay_tty:
        raise InvalidArgument("process.terminal is true but no --console-socket was given "
                              "(needed to hand over the terminal when detaching)")
    if opts.console_socket and not process.get("terminal"):
        raise InvalidArgument("--console-socket given but process.terminal is false")
    modules.rootfs().validate(spec)
    modules.security().validate(spec, cache_dir=os.path.join(store.root, "seccomp"))
    linux = spec.get("linux") or {}
    cgroups = modules.cgroups()
    if linux.get("resources"):
        cgroups.validate(linux["resources"])

    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
    lock = store.reserve(container_id)
    manager = None
    master = -1
    try:
        state_dir = store.dir(container_id)
        fifo = os.path.join(state_dir, "exec.fifo")
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)  # past the umask: a user namespace's root opens it
        container = st.ContainerState(container_id, bundle, rootfs, spec,
                                      created=now_rfc3339(), owner=_owner(),
                                      no_pivot=opts.no_pivot)
        manager = cgroups.create_manager(linux.get("cgroupsPath"), container_id)
        launched = stage_parent.launch(
            stage_parent.Launch(spec, rootfs, bundle, state_dir, opts.no_pivot, container,
                                close_fds=(lock,)),
            manager)
        master = launched.pty_master
        container.pid, container.start_time = launched.pid, launched.start_time
        container.status = st.CREATED
        container.cgroup = manager.to_state()
        if master >= 0 and opts.console_socket:
            from dockyard.runtime import console

            console.send_to_socket(opts.console_socket, master)
            os.close(master)
            master = -1
        store.save(container)
        if opts.pid_file:
            write_pid_file(opts.pid_file, launched.pid)
        return container, master
    except BaseException:
        if master >= 0:
            os.close(master)
        if container_id and 'container' in locals() and container.pid:
            _kill_quietly(container.pid)
        try:
            from dockyard.runtime.container.delete import unmount_shared_rootfs

            unmount_shared_rootfs(spec, rootfs)
        except OSError:
            pass
        if manager is not None:
            try:
                manager.destroy()
            except Exception:
                pass
        store.remove(container_id)
        raise
    finally:
        os.close(lock)


def _kill_quietly(pid: int) -> None:
    import _signal as signal

    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (OSError, ChildProcessError):
        pass


def _owner() -> str:
    return "" if os.geteuid() == 0 else str(os.geteuid())


def write_pid_file(path: str, pid: int) -> None:
    """Write atomically, so a reader never sees an empty or partial pid file."""
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)
