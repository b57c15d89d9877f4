"""Container status, the checks every verb runs first, and the state directory.

The state directory holds one sub-directory per container::

    <root>/<id>/state.json   OCI state + private fields (init pid and start time,
                             bundle, saved config, cgroup manager state)
    <root>/<id>/exec.fifo    created by ``create``; ``start`` opens it to release init
    <root>/<id>/lock         flock'd by every command touching the container

A container's *stored* status is only what the last command wrote; the *current*
status also looks at the kernel: an init that is gone, a zombie, or a pid that was
reused (different start time) means ``stopped``.

Plain ``__slots__`` classes instead of dataclasses: importing :mod:`dataclasses`
costs ~12 ms (it pulls in :mod:`inspect`), which is a third of a ``run``'s budget.
"""

from __future__ import annotations

import fcntl
import os

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.runtime import fastjson

OCI_VERSION = "1.2.0"
DEFAULT_ROOT = "/run/dockyard-runtime"

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"

_ID_PUNCT = frozenset("_+-.")


def validate_id(container_id: str) -> None:
    """Reject ids that could name a path outside the state root (runc's rule)."""
    if not container_id or container_id in (".", "..") or len(container_id) > 1024 or \
            not all(ch.isalnum() or ch in _ID_PUNCT for ch in container_id):
        raise InvalidArgument(f"invalid container id {container_id!r}: use letters, digits, "
                              "'_', '+', '-' and '.'")


# --- status checks (each verb calls one before acting) ------------------------------

def can_start(status: str) -> None:
    if status != CREATED:
        raise Conflict(f"cannot start a container that is {status}, only a created one")


def can_kill(status: str) -> None:
    if status == STOPPED:
        raise Conflict("container not running")


def can_delete(status: str, force: bool) -> None:
    if status != STOPPED and not force:
        raise Conflict(f"cannot delete container that is {status} (not stopped); "
                       "use --force")


def can_pause(status: str) -> None:
    if status not in (RUNNING, CREATED):
        raise Conflict(f"cannot pause a container that is {status}")


def can_resume(status: str) -> None:
    if status != PAUSED:
        raise Conflict(f"cannot resume a container that is {status}, only a paused one")


def can_exec(status: str) -> None:
    if status not in (RUNNING, CREATED):
        raise Conflict(f"cannot exec in a container that is {status}")


# --- process liveness ------------------------------------------------------------------

def process_start_time(pid: int) -> int | None:
    """Start time (clock ticks since boot) of a live, non-zombie ``pid``, else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rsplit(b")", 1)[1].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


class ContainerState:
    """Everything a later command needs to know about one container."""

    __slots__ = (
        "annotations",
        "bundle",
        "cgroup",
        "config",
        "created",
        "id",
        "no_pivot",
        "owner",
        "pid",
        "rootfs",
        "start_time",
        "status",
    )

    def __init__(self, id: str, bundle: str, rootfs: str, config: dict, *, pid: int = 0,
                 start_time: int = 0, status: str = CREATING, created: str = "",
                 owner: str = "", cgroup: dict | None = None, no_pivot: bool = False) -> None:
        self.id = id
        self.bundle = bundle
        self.rootfs = rootfs
        self.pid = pid
        self.start_time = start_time
        self.status = status
        self.created = created
        self.owner = owner
        self.annotations = config.get("annotations") or {}
        self.config = config
        self.cgroup = cgroup or {}
        self.no_pivot = no_pivot

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_json(cls, data: dict) -> ContainerState:
        st = cls(data["id"], data["bundle"], data["rootfs"], data["config"])
        for k in cls.__slots__:
            if k in data:
                setattr(st, k, data[k])
        return st

    def init_alive(self) -> bool:
        if self.pid <= 0:
            return False
        return process_start_time(self.pid) == self.start_time

    def current_status(self) -> str:
        """The stored status corrected by what the kernel says about init."""
        if self.status == CREATING:
            return CREATING
        if not self.init_alive():
            return STOPPED
        return self.status

    def oci(self, status: str | None = None) -> dict:
        """The OCI state document (state-schema.json) plus runc's extra fields."""
        st = status or self.current_status()
        out = {
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "pid": self.pid if st not in (STOPPED,) else 0,
            "status": st,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        }
        if self.annotations:
            out["annotations"] = self.annotations
        return out

    def hook_state(self, status: str) -> dict:
        """The state a hook reads on stdin: schema fields only."""
        out = {"ociVersion": OCI_VERSION, "id": self.id, "status": status,
               "pid": self.pid, "bundle": self.bundle}
        if self.annotations:
            out["annotations"] = self.annotations
        return out


class StateStore:
    """The ``--root`` directory: one locked sub-directory per container."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def dir(self, container_id: str) -> str:
        validate_id(container_id)
        return os.path.join(self.root, container_id)

    def fifo(self, container_id: str) -> str:
        return os.path.join(self.dir(container_id), "exec.fifo")

    def reserve(self, container_id: str) -> int:
        """Create the container's directory and take its lock; Conflict if the id is used.

        Returns the lock fd; the caller releases it (``os.close``) when done.
        """
        d = self.dir(container_id)
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        try:
            os.mkdir(d, 0o711)
        except FileExistsError:
            raise Conflict(f"container with id {container_id!r} already exists") from None
        fd = os.open(os.path.join(d, "lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def lock(self, container_id: str) -> int:
        """Take the container's lock (blocking); NotFound if it does not exist."""
        d = self.dir(container_id)
        try:
            fd = os.open(os.path.join(d, "lock"), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"container {container_id!r} does not exist") from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(d, "state.json")) and not os.path.isdir(d):
            os.close(fd)
            raise NotFound(f"container {container_id!r} does not exist")
        return fd

    def load(self, container_id: str) -> ContainerState:
        path = os.path.join(self.dir(container_id), "state.json")
        try:
            with open(path, "rb") as f:
                return ContainerState.from_json(fastjson.loads(f.read()))
        except FileNotFoundError:
            raise NotFound(f"container {container_id!r} does not exist") from None
        except (ValueError, KeyError) as e:
            raise InvalidArgument(f"state of container {container_id!r} is corrupt: {e}") \
                from None

    def save(self, state: ContainerState) -> None:
        d = self.dir(state.id)
        tmp = os.path.join(d, ".state.json.tmp")
        with open(tmp, "w") as f:
            f.write(fastjson.dumps(state.to_json()))
        os.rename(tmp, os.path.join(d, "state.json"))

    def remove(self, container_id: str) -> None:
        # Only plain files live here (state.json, lock, exec.fifo): no shutil needed
        # (importing it costs ~3 ms of a `run`).
        d = self.dir(container_id)
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return
        for name in names:
            try:
                os.unlink(os.path.join(d, name))
            except IsADirectoryError:
                import shutil

                shutil.rmtree(os.path.join(d, name), ignore_errors=True)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass

    def ids(self) -> list[str]:
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        return [n for n in names if os.path.isfile(os.path.join(self.root, n, "state.json"))]
