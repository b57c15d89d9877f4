"""The build state between steps, and its image-config JSON (docker's shape).

A :class:`State` is what a step turns into another: the config fields the
Dockerfile sets (:class:`ImageConfigState`), the layers so far, the history,
and the last image recorded on the way (the base, or an intermediate image of
a layer step). It round-trips through JSON for the build cache.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from dockyard.build.config import HealthConfig, ImageConfigState
from dockyard.image.digest import Digest


def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Layer:
    blob: str          # digest of the stored blob
    media_type: str
    size: int          # blob size
    diff_id: str
    unpacked: int = 0  # bytes of the uncompressed tar


@dataclass(frozen=True)
class State:
    key: str
    config: ImageConfigState
    layers: tuple[Layer, ...] = ()
    history: tuple[dict[str, Any], ...] = ()
    image_id: str | None = None       # last recorded image (base or intermediate)
    platform: tuple[str, str, str] = ("linux", "amd64", "")   # os, arch, variant
    comment: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def diff_ids(self) -> list[Digest]:
        return [Digest.parse(layer.diff_id) for layer in self.layers]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> State:
        c = dict(d["config"])
        hc = c.get("healthcheck")
        for k in ("env", "exposed_ports", "volumes", "on_build"):
            c[k] = tuple(c.get(k) or ())
        for k in ("cmd", "entrypoint", "shell"):
            if c.get(k) is not None:
                c[k] = tuple(c[k])
        c["labels"] = tuple(tuple(p) for p in c.get("labels") or ())
        c["healthcheck"] = HealthConfig(**{**hc, "test": tuple(hc["test"])}) if hc else None
        return cls(d["key"], ImageConfigState(**c),
                   tuple(Layer(**x) for x in d.get("layers") or ()),
                   tuple(d.get("history") or ()), d.get("image_id"),
                   tuple(d.get("platform") or ("linux", "amd64", "")),  # type: ignore[arg-type]
                   d.get("comment", ""), d.get("extra") or {})

    def with_config(self, key: str, config: ImageConfigState) -> State:
        return replace(self, key=key, config=config)


def config_from_image(raw: dict[str, Any]) -> ImageConfigState:
    """An image config's ``config`` section as the builder's state."""
    c = raw.get("config") or {}
    hc = c.get("Healthcheck")
    return ImageConfigState(
        env=tuple(c.get("Env") or ()),
        cmd=tuple(c["Cmd"]) if c.get("Cmd") is not None else None,
        entrypoint=tuple(c["Entrypoint"]) if c.get("Entrypoint") is not None else None,
        working_dir=c.get("WorkingDir") or "", user=c.get("User") or "",
        exposed_ports=tuple(c.get("ExposedPorts") or ()),
        volumes=tuple(c.get("Volumes") or ()),
        labels=tuple((c.get("Labels") or {}).items()),
        stop_signal=c.get("StopSignal") or "",
        healthcheck=HealthConfig(tuple(hc.get("Test") or ()), hc.get("Interval", 0),
                                 hc.get("Timeout", 0), hc.get("StartPeriod", 0),
                                 hc.get("StartInterval", 0), hc.get("Retries", 0))
        if hc else None,
        on_build=tuple(c.get("OnBuild") or ()),
        shell=tuple(c["Shell"]) if c.get("Shell") else None,
        author=raw.get("author") or "")


def config_json(c: ImageConfigState) -> dict[str, Any]:
    """The image config's ``config`` section, with docker's keys."""
    d: dict[str, Any] = {}
    if c.user:
        d["User"] = c.user
    if c.exposed_ports:
        d["ExposedPorts"] = {p: {} for p in c.exposed_ports}
    if c.env:
        d["Env"] = list(c.env)
    if c.cmd is not None:
        d["Cmd"] = list(c.cmd)
    if c.healthcheck is not None:
        h = c.healthcheck
        hd: dict[str, Any] = {"Test": list(h.test)}
        for key, value in (("Interval", h.interval), ("Timeout", h.timeout),
                           ("StartPeriod", h.start_period),
                           ("StartInterval", h.start_interval), ("Retries", h.retries)):
            if value:
                hd[key] = value
        d["Healthcheck"] = hd
    if c.volumes:
        d["Volumes"] = {v: {} for v in c.volumes}
    if c.working_dir:
        d["WorkingDir"] = c.working_dir
    if c.entrypoint is not None:
        d["Entrypoint"] = list(c.entrypoint)
    if c.on_build:
        d["OnBuild"] = list(c.on_build)
    if c.labels:
        d["Labels"] = dict(c.labels)
    if c.stop_signal:
        d["StopSignal"] = c.stop_signal
    if c.shell is not None:
        d["Shell"] = list(c.shell)
    return d


def image_doc(state: State, created: str) -> dict[str, Any]:
    os_, arch, variant = state.platform
    doc: dict[str, Any] = {"architecture": arch}
    if state.config.author:
        doc["author"] = state.config.author
    if state.comment:
        doc["comment"] = state.comment
    doc["config"] = config_json(state.config)
    doc["created"] = created
    doc["history"] = list(state.history)
    doc["os"] = os_
    doc["rootfs"] = {"type": "layers", "diff_ids": [x.diff_id for x in state.layers]}
    if variant:
        doc["variant"] = variant
    return doc


__all__ = ["Layer", "State", "config_from_image", "config_json", "image_doc",
           "now_rfc3339"]
