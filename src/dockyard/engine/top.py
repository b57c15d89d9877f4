"""``docker top``: the host's ``ps`` output narrowed to one container's processes.

The container's processes are every pid in its cgroup, sub-cgroups included
(``cgroup.procs`` of each directory of the tree). ``ps`` runs on the host with
the caller's arguments (default ``-ef``) plus ``-q <pids>`` when it accepts it,
and its lines are kept when their PID column is one of ours. Docker's rules are
kept: the PID title must be there, a ``-`` PID (a thread line under ``ps m``)
belongs to the process above it, the last column takes the rest of the line, and
``ps_args`` may not rename a column to ``PID`` (``-o user=PID``).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from typing import Any

from dockyard.errors import InvalidArgument, SystemError_

DEFAULT_PS_ARGS = "-ef"
_RENAME_TO_PID = re.compile(r"\s+([^\s]*)=\s*(PID[^\s]*)")


def validate_ps_args(ps_args: str) -> None:
    for key, value in _RENAME_TO_PID.findall(" " + ps_args):
        if key != "pid":
            raise InvalidArgument(f'specifying "{key}={value}" is not allowed')


def cgroup_pids(directory: str) -> list[int]:
    """Every pid in a cgroup directory and the cgroups below it."""
    pids: list[int] = []
    for root, _dirs, files in os.walk(directory):
        if "cgroup.procs" not in files:
            continue
        try:
            with open(os.path.join(root, "cgroup.procs")) as f:
                pids.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
    return sorted(set(pids))


def manager_dir(paths: dict[str, str]) -> str:
    """The directory to list pids from: the pids controller's, else any."""
    for controller in ("pids", "memory", "cpu", "freezer", "devices", ""):
        if paths.get(controller):
            return paths[controller]
    for value in paths.values():
        if value:
            return value
    raise SystemError_("the container's cgroup has no directory to read")


def parse_ps_output(output: str, pids: Iterable[int]) -> dict[str, Any]:
    """Docker's ``{"Titles": [...], "Processes": [[...], ...]}`` from ``ps`` text."""
    wanted = set(pids)
    lines = output.split("\n")
    titles = lines[0].split() if lines else []
    try:
        pid_index = titles.index("PID")
    except ValueError:
        raise InvalidArgument("Couldn't find PID field in ps output") from None
    processes: list[list[str]] = []
    previous_kept = False
    for line in lines[1:]:
        if not line:
            continue
        fields = line.split()
        if len(fields) <= pid_index:
            continue
        if fields[pid_index] == "-":
            if previous_kept:
                processes.append(_row(fields, len(titles)))
            continue
        try:
            pid = int(fields[pid_index])
        except ValueError:
            raise SystemError_(f"Unexpected pid '{fields[pid_index]}' in ps output") \
                from None
        previous_kept = pid in wanted
        if previous_kept:
            processes.append(_row(fields, len(titles)))
    return {"Processes": processes, "Titles": titles}


def _row(fields: list[str], ncols: int) -> list[str]:
    if len(fields) <= ncols:
        return fields
    return [*fields[:ncols - 1], " ".join(fields[ncols - 1:])]


def run_ps(ps_args: str, pids: list[int]) -> str:
    """Run the host's ``ps``; with ``-q pids`` first (fast), then without it for
    options that refuse ``-q`` (like ``f``)."""
    args = ps_args.split(" ") if ps_args else DEFAULT_PS_ARGS.split()
    args = [a for a in args if a]
    attempts = []
    if pids:
        attempts.append([*args, "-q", ",".join(str(p) for p in pids)])
    attempts.append(args)
    last = ""
    for argv in attempts:
        try:
            proc = subprocess.run(["ps", *argv], capture_output=True, timeout=30)
        except FileNotFoundError:
            raise SystemError_("ps is not installed on the host (procps)") from None
        except subprocess.TimeoutExpired:
            raise SystemError_("ps did not answer within 30s") from None
        if proc.returncode == 0:
            return proc.stdout.decode(errors="replace")
        last = proc.stderr.decode(errors="replace").strip()
    raise InvalidArgument(f"Error running ps: exit status 1 ({last})")


def top(paths: dict[str, str], ps_args: str = "") -> dict[str, Any]:
    """The ``top`` answer for a container whose cgroup directories are ``paths``
    (the runtime's cgroup manager's ``paths``)."""
    ps_args = ps_args or DEFAULT_PS_ARGS
    validate_ps_args(ps_args)
    pids = cgroup_pids(manager_dir(paths))
    return parse_ps_output(run_ps(ps_args, pids), pids)


def container_top(pid: int, ps_args: str = "") -> dict[str, Any]:
    """``top`` of a running container whose init is ``pid`` (any runtime)."""
    from dockyard.engine.cgroupof import cgroup_of

    _version, dirs = cgroup_of(pid)
    return top(dirs, ps_args)


__all__ = ["DEFAULT_PS_ARGS", "cgroup_pids", "container_top", "manager_dir",
           "parse_ps_output", "run_ps", "top", "validate_ps_args"]
