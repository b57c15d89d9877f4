"""``exec``: run another process inside a running container.

Stages: this process (a child subreaper) -> ``dockyard:[exec]`` which joins the
container's cgroup (the parent writes it there) and all of the init's
namespaces (user first) -> ``dockyard:[exec-init]``, forked after the joins so
it is inside the pid (and time) namespace too. The exec-init opens its pty in
the container's devpts when asked, applies the process's security settings and
``execve``s; an error before that comes back over the channel, whose write end
closes on exec (EOF = started).
"""

from __future__ import annotations

import json
import os

from dockyard.errors import InvalidArgument
from dockyard.runtime import namespaces
from dockyard.runtime import spec as specmod
from dockyard.runtime import state as st
from dockyard.runtime.process.channel import Channel, Msg, StageError
from dockyard.runtime.process.fork import fork_stage


class ExecOptions:
    __slots__ = ("console_socket", "detach", "pid_file")

    def __init__(self, detach: bool = False, pid_file: str | None = None,
                 console_socket: str | None = None) -> None:
        self.detach = detach
        self.pid_file = pid_file
        self.console_socket = console_socket


def build_process(base: dict | None, *, process_file: str | None = None,
                  args: list[str] | None = None, tty: bool = False, cwd: str | None = None,
                  env: list[str] | None = None, user: str | None = None,
                  caps: list[str] | None = None, no_new_privs: bool = False,
                  additional_gids: list[int] | None = None) -> dict:
    """The process to exec: ``--process FILE`` as is, else the container's own
    process with the command line's overrides (runc's rules)."""
    if process_file:
        try:
            with open(process_file) as f:
                p = json.load(f)
        except OSError as e:
            raise InvalidArgument(f"cannot read --process {process_file!r}: "
                                  f"{e.strerror}") from None
        except ValueError as e:
            raise InvalidArgument(f"--process {process_file!r}: not valid JSON: {e}") \
                from None
    else:
        if not args:
            raise InvalidArgument("exec needs a command (arguments after the id) "
                                  "or --process FILE")
        p = json.loads(json.dumps(base or {}))
        p["args"] = list(args)
        p["terminal"] = tty
        p.pop("consoleSize", None)
        if cwd:
            p["cwd"] = cwd
        p.setdefault("cwd", "/")
        merged = {e.split("=", 1)[0]: e for e in p.get("env") or []}
        for e in env or []:
            if "=" not in e:
                raise InvalidArgument(f"--env {e!r}: expected NAME=VALUE")
            merged[e.split("=", 1)[0]] = e
        p["env"] = list(merged.values())
        if user:
            uid, _, gid = user.partition(":")
            if not uid.isdigit() or (gid and not gid.isdigit()):
                raise InvalidArgument(f"--user {user!r}: expected UID[:GID] (numbers)")
            p["user"] = dict(p.get("user") or {}, uid=int(uid), gid=int(gid or 0))
        if additional_gids:
            p.setdefault("user", {})["additionalGids"] = list(additional_gids)
        if caps:
            c = p.setdefault("capabilities", {})
            for kind in ("bounding", "effective", "permitted"):
                have = c.get(kind) or []
                c[kind] = have + [x for x in caps if x not in have]
        if no_new_privs:
            p["noNewPrivileges"] = True
    try:
        specmod._process(p, "process")
    except specmod.SpecError as e:
        raise InvalidArgument(e.message.replace("config.json: ", "exec: ", 1)) from None
    return p


def exec_(store: st.StateStore, container_id: str, process: dict, opts: ExecOptions, *,
          warn=None) -> int:
    from dockyard.runtime import syscalls
    from dockyard.runtime.container.delete import load_manager
    from dockyard.runtime.process.stage_parent import _reap

    if process.get("terminal") and opts.detach and not opts.console_socket:
        raise InvalidArgument("exec -t --detach needs --console-socket")
    lock = store.lock(container_id)
    try:
        c = store.load(container_id)
        st.can_exec(c.current_status())
        manager = load_manager(c)
        _prepare_security(c, process, store.root)
        types = {ns["type"] for ns in (c.config.get("linux") or {}).get("namespaces") or []}
        join_fds = namespaces.open_join_fds(namespaces.ns_paths_of(c.pid, types))
        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
        ours, theirs = Channel.pair()

        def stage() -> None:
            ours.close()
            os.close(lock)  # a child holding the state lock would block other commands
            _exec_stage(c, process, theirs, join_fds, os.path.join(store.root, "seccomp"))

        try:
            child = fork_stage("dockyard:[exec]", theirs, stage)
        finally:
            for _, fd in join_fds:
                os.close(fd)
        theirs.close()
        pid = 0
        master = -1
        try:
            ours.wait_for(Msg.SETUP_REQUEST, "exec stage")
            if manager is not None:
                manager.apply(child)
            ours.send(Msg.SETUP_DONE)
            pid = ours.wait_for(Msg.INIT_PID, "exec stage")["pid"]
            _reap(child)
            child = 0
            ready = ours.wait_for(Msg.READY, "exec process")
            if ready.get("pty", -1) >= 0:
                pidfd = syscalls.pidfd_open(pid)
                try:
                    master = syscalls.pidfd_getfd(pidfd, ready["pty"])
                finally:
                    os.close(pidfd)
            ours.send(Msg.CONTINUE, state={})
            got = ours.recv()
            if got is not None and got["m"] == Msg.ERROR:
                raise StageError(got.get("error") or "exec failed")
        except BaseException:
            if master >= 0:
                os.close(master)
            for p in (child, pid):
                if p:
                    try:
                        os.kill(p, 9)
                    except ProcessLookupError:
                        pass
                    _reap(p)
            raise
        finally:
            ours.close()
    finally:
        os.close(lock)
    if opts.pid_file:
        from dockyard.runtime.container.create import write_pid_file

        write_pid_file(opts.pid_file, pid)
    if master >= 0 and opts.console_socket:
        from dockyard.runtime import console

        console.send_to_socket(opts.console_socket, master)
        os.close(master)
        master = -1
    if opts.detach:
        if master >= 0:
            os.close(master)
        return 0
    from dockyard.runtime.container.run import Forwarder, exit_code, wait_foreground

    forward = Forwarder()
    forward.target = pid
    forward.master = master
    forward.install()
    return exit_code(wait_foreground(pid, master, forward))


def _prepare_security(c: st.ContainerState, process: dict, root: str) -> None:
    """Check the process and compile its seccomp program here, on the host: the
    forked exec-init reuses it in memory and imports nothing after joining the
    container's mount namespace."""
    from dockyard.runtime.process import modules
    from dockyard.runtime.process.stage_init import preload

    linux = c.config.get("linux") or {}
    modules.security().validate({"process": process, "linux": linux},
                                cache_dir=os.path.join(root, "seccomp"))
    preload({})
    from dockyard.runtime import console  # noqa: F401 - used by the exec-init
    from dockyard.runtime.process import stage_init  # noqa: F401


def _exec_stage(c: st.ContainerState, process: dict, chan: Channel,
                join_fds: list[tuple[str, int]], cache_dir: str) -> None:
    namespaces.join_all(join_fds)
    for _, fd in join_fds:
        os.close(fd)
    chan.send(Msg.SETUP_REQUEST)
    chan.wait_for(Msg.SETUP_DONE, "parent")
    pid = fork_stage("dockyard:[exec-init]", chan,
                     lambda: _exec_init(c, process, chan, cache_dir))
    chan.send(Msg.INIT_PID, pid=pid)


def _exec_init(c: st.ContainerState, process: dict, chan: Channel, cache_dir: str) -> None:
    from dockyard.runtime.process import modules
    from dockyard.runtime.process.stage_init import (
        DEFAULT_PATH,
        env_dict,
        find_executable,
        reset_signals,
    )

    reset_signals()
    master = -1
    if process.get("terminal"):
        from dockyard.runtime import console

        os.setsid()
        master, slave_path = console.open_pty("/dev/ptmx")
        slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
        size = process.get("consoleSize")
        if size:
            console.set_size(master, size["height"], size["width"])
        console.become_controlling_tty(slave)
        os.close(slave)
    chan.send(Msg.READY, pty=master)
    chan.wait_for(Msg.CONTINUE, "parent")
    if master >= 0:
        os.close(master)
    env = env_dict(process.get("env") or [])
    cwd = process.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        raise OSError(e.errno, f"cannot change to cwd {cwd!r}: {e.strerror}") from None
    exe = find_executable(process["args"][0], env.get("PATH", DEFAULT_PATH))
    linux = c.config.get("linux") or {}
    modules.security().finalize_process(
        process, seccomp=linux.get("seccomp"),
        no_new_privileges=bool(process.get("noNewPrivileges")), cache_dir=cache_dir)
    os.execve(exe, process["args"], env)
