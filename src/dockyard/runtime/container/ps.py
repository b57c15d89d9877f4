"""``ps``: the processes in the container's cgroup (JSON pids, or ``ps`` output)."""

from __future__ import annotations

from dockyard.runtime import state as st
from dockyard.runtime.container.delete import load_manager


def pids(store: st.StateStore, container_id: str) -> list[int]:
    c = store.load(container_id)
    manager = load_manager(c)
    if manager is None:
        return [c.pid] if c.init_alive() else []
    return sorted(manager.pids())


def table(pid_list: list[int], ps_args: list[str]) -> str:
    """Run the host's ``ps`` and keep the header plus the container's rows."""
    import subprocess

    out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    if not out:
        return ""
    header = out[0].split()
    try:
        col = header.index("PID")
    except ValueError:
        raise ValueError("ps output has no PID column") from None
    wanted = set(pid_list)
    rows = [out[0]]
    for line in out[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            rows.append(line)
    return "\n".join(rows) + "\n"
