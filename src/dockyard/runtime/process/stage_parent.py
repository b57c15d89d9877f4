"""Stage 1 (the CLI process): drive the intermediate and the init through create.

``launch`` forks the intermediate, places it in the cgroup and writes its user
namespace's id maps when asked, learns the init's host pid, runs createRuntime
hooks while the init waits (namespaces made, rootfs not yet), and returns once
the init reports READY, blocked on ``exec.fifo``. Resource limits are set only
then, as runc does: a device cgroup applied earlier would forbid the init's
mknod of /dev entries.

If anything fails, every process made so far is killed and reaped (the caller is
a child subreaper, so the orphaned init is ours to reap) before the error is
raised; the caller removes the cgroup and the state directory.
"""

from __future__ import annotations

import _signal as signal  # the C module: `signal` imports enum (~2 ms)
import os

from dockyard.runtime import hooks, namespaces, state
from dockyard.runtime.device_rules import with_defaults  # here: loaded before the fork
from dockyard.runtime.process.channel import Channel, Msg
from dockyard.runtime.process.fork import fork_stage


class Launch:
    """What the stages need to know, decided by the parent before forking."""

    __slots__ = (
        "bundle",
        "close_fds",
        "container",
        "handshake",
        "no_pivot",
        "plan",
        "rootfs",
        "rootfs_arg",
        "seccomp_cache",
        "spec",
        "state_dir",
        "state_dir_fd",
    )

    def __init__(self, spec: dict, rootfs: str, bundle: str, state_dir: str,
                 no_pivot: bool, container: state.ContainerState,
                 close_fds: tuple[int, ...] = ()) -> None:
        # Descriptors the children must not keep (the state lock: a child holding
        # it would block every later command on this container).
        self.close_fds = close_fds
        # Stop the init before its rootfs setup only when a hook must run there
        # (a round trip costs a few ms of every start).
        self.handshake = any(hooks.has(spec, phase) for phase in
                             ("createRuntime", "createContainer", "startContainer"))
        # Compiled seccomp programs are kept here (security's cache, root-only).
        self.seccomp_cache = os.path.join(os.path.dirname(state_dir), "seccomp")
        self.spec = spec
        self.rootfs = rootfs
        # As written in config.json: relative to the bundle, the init's cwd.
        self.rootfs_arg = spec["root"]["path"]
        if os.path.normpath(self.rootfs_arg) in (".", ""):
            # The bundle is the rootfs: rootfs.setup binds the rootfs onto itself and
            # must then enter that mount, which a cwd-relative "." would not.
            self.rootfs_arg = rootfs
        # Opened by the parent; the init reaches exec.fifo through it (openat), as
        # the state root may be closed to the container's (namespaced) root.
        self.state_dir_fd = -1
        self.bundle = bundle
        self.state_dir = state_dir
        self.plan = namespaces.plan(spec)
        self.no_pivot = no_pivot
        self.container = container


class Launched:
    __slots__ = ("pid", "pty_master", "start_time")

    def __init__(self, pid: int, start_time: int, pty_master: int) -> None:
        self.pid = pid
        self.start_time = start_time
        self.pty_master = pty_master


def launch(launch: Launch, manager) -> Launched:
    from dockyard.runtime.process import stage_intermediate
    from dockyard.runtime.process.stage_init import preload

    preload(launch.spec)
    # The cgroup directories now: the fork below may wait for the cgroup warm-up
    # (process/__init__.py) anyway, and after it only the pid writes are left.
    manager.apply(None)
    join_fds = namespaces.open_join_fds(launch.plan.join)
    launch.state_dir_fd = os.open(launch.state_dir,
                                  os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    ours, theirs = Channel.pair()

    def intermediate() -> None:
        ours.close()
        for fd in launch.close_fds:
            os.close(fd)
        stage_intermediate.run(launch, theirs, join_fds)

    try:
        inter = fork_stage("dockyard:[stage]", theirs, intermediate)
    finally:
        for _, fd in join_fds:
            os.close(fd)
        os.close(launch.state_dir_fd)
    theirs.close()
    init_pid = 0
    try:
        manager.apply(inter)  # meanwhile the intermediate makes the namespaces
        ours.wait_for(Msg.SETUP_REQUEST, "intermediate stage")
        if launch.plan.new_user:
            namespaces.write_id_maps(inter, launch.plan.uid_maps, launch.plan.gid_maps)
        ours.send(Msg.SETUP_DONE)
        init_pid = ours.wait_for(Msg.INIT_PID, "intermediate stage")["pid"]
        _reap(inter)
        inter = 0
        start_time = state.process_start_time(init_pid) or 0
        c = launch.container
        c.pid, c.start_time = init_pid, start_time
        if launch.handshake:
            ours.wait_for(Msg.PRE_ROOTFS, "container init")
            hooks.run_phase(launch.spec, "createRuntime", c.hook_state(state.CREATING))
            ours.send(Msg.CONTINUE, state=c.hook_state(state.CREATED))
        ready = ours.wait_for(Msg.READY, "container init")
        master = -1
        if ready.get("pty", -1) >= 0:
            from dockyard.runtime import syscalls

            pidfd = syscalls.pidfd_open(init_pid)
            try:
                master = syscalls.pidfd_getfd(pidfd, ready["pty"])
            finally:
                os.close(pidfd)
        manager.set(cgroup_resources(launch.spec))
        return Launched(init_pid, start_time, master)
    except BaseException:
        for pid in (inter, init_pid):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _reap(pid)
        raise
    finally:
        ours.close()


def cgroup_resources(spec: dict) -> dict:
    """``linux.resources`` with the default device rules appended (device_rules)."""
    resources = dict((spec.get("linux") or {}).get("resources") or {})
    resources["devices"] = with_defaults(resources.get("devices"))
    return resources


def _reap(pid: int) -> int:
    """Wait for our child (or orphan we are subreaper for); return its wait status."""
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue
        except ChildProcessError:
            return 0
