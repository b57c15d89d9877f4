"""Named volumes with docker's ``local`` driver: create, inspect, list, remove, prune.

Layout (one directory per volume, like dockerd's)::

    ROOT/<name>/_data        the volume's files (the Mountpoint)
    ROOT/<name>/opts.json    Name, Driver, Labels, Options, CreatedAt, Anonymous
    ROOT/<name>/refs         how many container mount plans hold the volume (an int)
    ROOT/.lock               flock taken by every change

Driver options are the local driver's ``type``/``device``/``o`` (``docker volume
create -o type=tmpfs -o device=tmpfs -o o=size=10m``). Such a volume is mounted on
its ``_data`` when the first holder takes it (:meth:`VolumeService.acquire`) and
unmounted when the last one lets go, so an unused tmpfs volume holds no memory.
The holder count lives on disk so that a restarted daemon keeps it.

Who uses a volume is the engine's knowledge (its containers' mount plans): the
``in_use`` callbacks of :meth:`remove`, :meth:`prune` and :meth:`list` return the
ids of the containers using a volume; without one the holder count answers.
Messages and status kinds are dockerd's ("remove v: volume is in use - [ids]").
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemError_

DEFAULT_DRIVER = "local"
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
MAX_NAME = 255   # one directory entry
VALID_OPTIONS = ("type", "device", "o", "size")
# local driver: an option needs the others named here (docker's mandatory options)
REQUIRED_WITH = {"o": ("device", "type"), "type": ("device",), "device": ("type",)}
LIST_FILTERS = {"dangling", "driver", "label", "name"}
PRUNE_FILTERS = {"all", "label", "label!", "until"}   # "all": 1.42 spelling of 1.41

InUse = Callable[[str], list[str]]


def validate_name(name: str, op: str = "create") -> None:
    """docker's local volume name rule, with its messages."""
    if len(name) == 1:
        raise InvalidArgument(f"{op} {name}: volume name is too short, names should be at "
                              "least two alphanumeric characters")
    if len(name) > MAX_NAME:
        raise InvalidArgument(f"{op} {name[:64]}...: volume name is longer than {MAX_NAME} "
                              "characters")
    if not NAME_RE.match(name):
        raise InvalidArgument(
            f'{op} {name}: "{name}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path")


def validate_options(name: str, opts: dict[str, str]) -> None:
    for key in opts:
        if key not in VALID_OPTIONS:
            raise InvalidArgument(f'create {name}: invalid option: "{key}"')
    if "size" in opts:
        raise InvalidArgument(f"create {name}: quota size requested but no quota support")
    for key in ("o", "type", "device"):
        if key in opts:
            for needed in REQUIRED_WITH[key]:
                if needed not in opts:
                    raise InvalidArgument(
                        f'create {name}: missing required option: "{needed}"')


def _plausible(name: str) -> bool:
    """Could ``name`` be a stored volume (a cheap check before touching the disk)?"""
    return bool(name) and len(name) <= MAX_NAME and NAME_RE.match(name) is not None


def _str_map(value: Any, what: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidArgument(f"{what} must be an object of strings")
    return dict(value)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(doc, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def dir_size(path: str | os.PathLike[str]) -> int:
    """Bytes of the files under ``path`` (hardlinks once; nothing followed, no
    other filesystem entered), the number ``docker system df`` shows."""
    total = 0
    seen: set[tuple[int, int]] = set()
    try:
        top_dev = os.lstat(path).st_dev
    except OSError:
        return 0
    stack = [os.fspath(path)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_dev != top_dev:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                    continue
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_size
    return total


def _mounted_at(path: str) -> list[str]:
    from dockyard.image.mount import is_mountpoint_under

    return is_mountpoint_under(path)


class VolumeService:
    """The local volume driver and store. Methods are blocking (run them in a worker)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(os.path.abspath(root))

    # -- bookkeeping -----------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o701)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _dir(self, name: str) -> Path:
        return self.root / name

    def data_dir(self, name: str) -> Path:
        return self.root / name / "_data"

    def _load(self, name: str, op: str = "get") -> dict[str, Any]:
        if not _plausible(name or ""):
            raise NotFound(f"{op} {name[:300]}: no such volume")
        try:
            with open(self._dir(name) / "opts.json") as f:
                return json.load(f)
        except FileNotFoundError:
            raise NotFound(f"{op} {name}: no such volume") from None
        except ValueError as e:
            raise SystemError_(f"volume {name}: corrupt opts.json: {e}") from e

    def _names(self) -> list[str]:
        try:
            entries = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in entries
                      if _plausible(n) and (self.root / n / "opts.json").is_file())

    def exists(self, name: str) -> bool:
        return _plausible(name or "") and (self._dir(name) / "opts.json").is_file()

    def _doc(self, meta: dict[str, Any]) -> dict[str, Any]:
        name = meta["Name"]
        return {"CreatedAt": meta.get("CreatedAt", ""), "Driver": meta.get("Driver", "local"),
                "Labels": meta.get("Labels"), "Mountpoint": str(self.data_dir(name)),
                "Name": name, "Options": meta.get("Options"), "Scope": "local"}

    def refs(self, name: str) -> int:
        try:
            return int((self._dir(name) / "refs").read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _set_refs(self, name: str, n: int) -> None:
        path = self._dir(name) / "refs"
        tmp = path.with_name(f".refs.{os.getpid()}")
        tmp.write_text(f"{max(n, 0)}\n")
        os.replace(tmp, path)

    # -- create / inspect / list -----------------------------------------------------
    def create(self, body: dict[str, Any], *, anonymous: bool | None = None) -> dict[str, Any]:
        """``POST /volumes/create``: ``{Name, Driver, DriverOpts, Labels}``.

        An existing volume of that name is returned as it is (docker's idempotent
        create) unless it belongs to another driver. No name: a 64-hex anonymous one.
        """
        if not isinstance(body, dict):
            raise InvalidArgument("volume create body must be a JSON object")
        name = body.get("Name") or ""
        if not isinstance(name, str):
            raise InvalidArgument("Name must be a string")
        driver = body.get("Driver") or DEFAULT_DRIVER
        if driver != DEFAULT_DRIVER:
            raise NotFound(f"create {name}: error looking up volume plugin {driver}: "
                           f'plugin "{driver}" not found')
        opts = _str_map(body.get("DriverOpts"), "DriverOpts")
        labels = _str_map(body.get("Labels"), "Labels")
        if anonymous is None:
            anonymous = not name
        if not name:
            name = secrets.token_hex(32)
        validate_name(name)
        validate_options(name, opts or {})
        with self._locked():
            if self.exists(name):
                meta = self._load(name)
                if meta.get("Driver", DEFAULT_DRIVER) != driver:
                    raise Conflict(f"create {name}: a volume with the name {name} already "
                                   f"exists with driver {meta.get('Driver')}")
                return self._doc(meta)
            vdir = self._dir(name)
            vdir.mkdir(mode=0o701)
            try:
                (vdir / "_data").mkdir(mode=0o755)
                meta = {"Name": name, "Driver": driver, "Labels": labels, "Options": opts,
                        "CreatedAt": _now(), "Anonymous": bool(anonymous)}
                _write_json(vdir / "opts.json", meta)
            except BaseException:
                shutil.rmtree(vdir, ignore_errors=True)
                raise
        return self._doc(meta)

    def inspect(self, name: str) -> dict[str, Any]:
        return self._doc(self._load(name))

    def is_anonymous(self, name: str) -> bool:
        return bool(self._load(name).get("Anonymous"))

    def _users(self, name: str, in_use: InUse | None) -> list[str]:
        if in_use is not None:
            return list(in_use(name))
        return ["<container>"] * min(self.refs(name), 1)

    def list(self, filters: dict[str, list[str]] | None = None,
             in_use: InUse | None = None) -> dict[str, Any]:
        """``GET /volumes``: ``{"Volumes": [...], "Warnings": null}``, filtered by
        dangling / driver / label / name like dockerd."""
        filters = filters or {}
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidArgument(f"Invalid filter '{key}'")
        dangling: bool | None = None
        for value in filters.get("dangling", []):
            if value.lower() in ("true", "1"):
                want = True
            elif value.lower() in ("false", "0"):
                want = False
            else:
                raise InvalidArgument(f"Invalid filter 'dangling=[{value}]'")
            dangling = want if dangling is None or dangling == want else None
        out = []
        for name in self._names():
            try:
                meta = self._load(name)
            except NotFound:
                continue  # removed meanwhile
            if not _match_filters(meta, filters):
                continue
            if dangling is not None and (not self._users(name, in_use)) != dangling:
                continue
            out.append(self._doc(meta))
        return {"Volumes": out, "Warnings": None}

    # -- remove / prune --------------------------------------------------------------
    def remove(self, name: str, force: bool = False, in_use: InUse | None = None) -> None:
        """``DELETE /volumes/{name}``: refused while a container uses it (even with
        force, as dockerd does); force hides "no such volume" and drops holds no
        container record accounts for."""
        with self._locked():
            try:
                self._load(name)
            except NotFound:
                if force:
                    return
                raise
            users = self._users(name, in_use)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            if self.refs(name) > 0 and not (force and in_use is not None):
                # held by a plan no container record names (a create under way, or
                # one a crash cut short): only force, with the engine's word, drops it
                raise Conflict(f"remove {name}: volume is in use - [a container being "
                               "created]")
            self._purge(name)

    def _purge(self, name: str) -> None:
        vdir = str(self._dir(name))
        # Never rmtree through a mount (a bind-option volume's device is a host dir).
        for point in sorted(_mounted_at(vdir), key=len, reverse=True):
            self._umount(point)
        if _mounted_at(vdir):
            raise SystemError_(f"remove {name}: {vdir} is still mounted")
        os.unlink(os.path.join(vdir, "opts.json"))   # gone for listings first
        shutil.rmtree(vdir, ignore_errors=True)

    def prune(self, filters: dict[str, list[str]] | None = None,
              in_use: InUse | None = None) -> dict[str, Any]:
        """``POST /volumes/prune`` at API 1.41: every unused local volume (named and
        anonymous), narrowed by ``label`` / ``label!``."""
        filters = filters or {}
        for key in filters:
            if key not in PRUNE_FILTERS:
                raise InvalidArgument(f"Invalid filter '{key}'")
        if filters.get("until"):
            raise InvalidArgument("Invalid filter 'until'")
        deleted: list[str] = []
        reclaimed = 0
        for name in self._names():
            try:
                meta = self._load(name)
            except NotFound:
                continue
            if not _match_labels(meta.get("Labels") or {}, filters.get("label", []), True):
                continue
            if not _match_labels(meta.get("Labels") or {}, filters.get("label!", []), False):
                continue
            with self._locked():
                if not self.exists(name) or self._users(name, in_use) or self.refs(name):
                    continue
                size = dir_size(self.data_dir(name))
                self._purge(name)
            deleted.append(name)
            reclaimed += size
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # -- usage -----------------------------------------------------------------------
    def usage(self, name: str) -> int:
        self._load(name)
        return dir_size(self.data_dir(name))

    def disk_usage(self, in_use: InUse | None = None) -> list[dict[str, Any]]:
        """The ``Volumes`` list of ``GET /system/df`` (with ``UsageData``)."""
        out = []
        for name in self._names():
            try:
                doc = self.inspect(name)
            except NotFound:
                continue
            users = self._users(name, in_use)
            doc["UsageData"] = {"Size": dir_size(self.data_dir(name)), "RefCount": len(users)}
            out.append(doc)
        return out

    # -- holders and the local driver's mounts ---------------------------------------
    def acquire(self, name: str) -> str:
        """Take the volume for a container's mount plan; mount it (driver options)
        on first use. Returns its data path."""
        with self._locked():
            meta = self._load(name)
            n = self.refs(name)
            if meta.get("Options"):
                self._mount(name, meta["Options"])
            self._set_refs(name, n + 1)
        return str(self.data_dir(name))

    def release(self, name: str) -> None:
        """Let go of one hold; the last one unmounts a driver-option volume."""
        with self._locked():
            try:
                meta = self._load(name)
            except NotFound:
                return
            n = max(self.refs(name) - 1, 0)
            self._set_refs(name, n)
            if n == 0 and meta.get("Options"):
                self._umount(str(self.data_dir(name)))

    def ensure_mounted(self, name: str) -> None:
        """Mount a held driver-option volume again if it is not (after a reboot)."""
        with self._locked():
            meta = self._load(name)
            if meta.get("Options") and self.refs(name) > 0:
                self._mount(name, meta["Options"])

    def _mount(self, name: str, opts: dict[str, str]) -> None:
        from dockyard.image.mount import MountSpec, mount_all

        target = str(self.data_dir(name))
        if target in _mounted_at(target):
            return
        if "type" not in opts:
            return
        fstype = opts["type"]
        options = tuple(o for o in (opts.get("o") or "").split(",") if o)
        spec_type = "bind" if "bind" in options or "rbind" in options else fstype
        source = opts.get("device", "")
        if spec_type == "bind" and not os.path.isabs(source):
            raise InvalidArgument(f"volume {name}: bind device {source!r} must be an "
                                  "absolute path")
        try:
            mount_all([MountSpec(spec_type, source, options)], target)
        except SystemError_ as e:
            raise SystemError_(f"error while mounting volume '{target}': {e.message}") from e

    @staticmethod
    def _umount(target: str) -> None:
        from dockyard.runtime import syscalls

        try:
            syscalls.umount2(target, 0)
        except OSError as e:
            if e.errno == errno.EBUSY:
                syscalls.umount2(target, syscalls.MNT_DETACH)
            elif e.errno not in (errno.EINVAL, errno.ENOENT):
                raise SystemError_(f"unmount {target}: {e}") from e


def _match_labels(labels: dict[str, str], wanted: list[str], positive: bool) -> bool:
    for item in wanted:
        key, eq, value = item.partition("=")
        hit = key in labels and (not eq or labels[key] == value)
        if hit != positive:
            return False
    return True


def _match_filters(meta: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    drivers = filters.get("driver")
    if drivers and meta.get("Driver", DEFAULT_DRIVER) not in drivers:
        return False
    names = filters.get("name")
    if names and not any(_name_match(p, meta["Name"]) for p in names):
        return False
    return _match_labels(meta.get("Labels") or {}, filters.get("label", []), True)


def _name_match(pattern: str, name: str) -> bool:
    """dockerd matches ``name`` filters as regular expressions (a plain name is a
    substring match)."""
    if pattern == name:
        return True
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return pattern in name


__all__ = ["DEFAULT_DRIVER", "VolumeService", "dir_size", "validate_name"]
