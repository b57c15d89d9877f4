"""Stage 2 (``dockyard:[stage]``): make the namespaces, then fork the init.

Runs in the parent's namespaces. Joins the namespaces given by path (user
first), unshares a new user namespace, then every other new namespace but the
cgroup one (while the parent places us in the cgroup), lets the parent write
the id maps, and unshares the cgroup namespace once inside the cgroup. A new
pid or time namespace applies to children only, so the init is forked after
that and becomes pid 1; its host pid is sent up and this stage exits.
"""

from __future__ import annotations

import os

from dockyard.runtime import namespaces, syscalls
from dockyard.runtime.process.channel import Channel, Msg
from dockyard.runtime.process.fork import fork_stage


def run(launch, chan: Channel, join_fds: list[tuple[str, int]]) -> None:
    from dockyard.runtime.process import stage_init

    plan = launch.plan
    namespaces.join_all(join_fds)
    for _, fd in join_fds:
        os.close(fd)
    # After the joins (setns into a mount namespace resets cwd and root), before
    # any id change: from here the rootfs is reached relative to the bundle.
    os.chdir(launch.bundle)
    if plan.new_user:
        syscalls.unshare(syscalls.CLONE_NEWUSER)
    # Everything but the cgroup namespace can be made while the parent is still
    # moving us into the cgroup (a slow write: the kernel waits for an RCU grace
    # period); the cgroup namespace must be rooted at the container's cgroup.
    early = plan.new_flags & ~syscalls.CLONE_NEWCGROUP
    if early:
        syscalls.unshare(early)
    chan.send(Msg.SETUP_REQUEST, user=plan.new_user)
    chan.wait_for(Msg.SETUP_DONE, "parent")
    if plan.new_user:
        # Become the namespace's root (if mapped) so files we create are owned by it.
        try:
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        except OSError:
            pass
        # Changing ids made us non-dumpable, which hands /proc/self to the host's
        # root: timens_offsets and the like would then be out of our reach.
        syscalls.prctl(syscalls.PR_SET_DUMPABLE, 1)
    if plan.new_flags & syscalls.CLONE_NEWCGROUP:
        syscalls.unshare(syscalls.CLONE_NEWCGROUP)
    if plan.time_offsets and plan.is_new("time"):
        namespaces.write_time_offsets(plan.time_offsets)
    pid = fork_stage("dockyard:[init]", chan, lambda: stage_init.run(launch, chan))
    chan.send(Msg.INIT_PID, pid=pid)
