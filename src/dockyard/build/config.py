"""The image-config effect of metadata instructions, as docker records it.

The executor folds each step's instruction into an :class:`ImageConfigState`
with :func:`apply`; RUN/COPY/ADD change files, not these fields. Rules follow
docker's dispatchers: shell-form CMD/ENTRYPOINT/HEALTHCHECK use the current
SHELL; ENTRYPOINT clears a CMD inherited from the base image; WORKDIR joins a
relative path to the current one; ENV replaces a variable in place; a new image
does not inherit its base's ONBUILD triggers (they ran when it was used).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field, replace

from dockyard.build import instructions as ins

DEFAULT_SHELL = ("/bin/sh", "-c")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class HealthConfig:
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True)
class ImageConfigState:
    """The fields of an image config the Dockerfile's metadata instructions set."""

    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    stop_signal: str = ""
    healthcheck: HealthConfig | None = None
    on_build: tuple[str, ...] = ()
    shell: tuple[str, ...] | None = None
    author: str = ""
    cmd_from_stage: bool = field(default=False, compare=False)

    @property
    def effective_shell(self) -> tuple[str, ...]:
        return self.shell or DEFAULT_SHELL

    def env_dict(self) -> dict[str, str]:
        return dict(e.split("=", 1) if "=" in e else (e, "") for e in self.env)


def start_stage(base: ImageConfigState) -> ImageConfigState:
    """The state a stage starts from: its base's, minus the base's ONBUILD triggers,
    with docker's default PATH added when the base has none."""
    env = base.env
    if not any(e.split("=", 1)[0] == "PATH" for e in env):
        env = (*env, f"PATH={DEFAULT_PATH}")
    return replace(base, env=env, on_build=(), cmd_from_stage=False)


def _set_env(env: tuple[str, ...], key: str, value: str) -> tuple[str, ...]:
    out = list(env)
    for k, e in enumerate(out):
        if e.split("=", 1)[0] == key:
            out[k] = f"{key}={value}"
            return tuple(out)
    return (*out, f"{key}={value}")


def _add_unique(seq: tuple[str, ...], items: tuple[str, ...]) -> tuple[str, ...]:
    out = list(seq)
    out.extend(i for i in items if i not in out)
    return tuple(out)


def apply(state: ImageConfigState, i: ins.Instruction) -> ImageConfigState:
    """``state`` after one (expanded) instruction."""
    shell = state.effective_shell
    if isinstance(i, ins.Env):
        env = state.env
        for k, v in i.pairs:
            env = _set_env(env, k, v)
        return replace(state, env=env)
    if isinstance(i, ins.Cmd):
        return replace(state, cmd=i.command.argv(shell), cmd_from_stage=True)
    if isinstance(i, ins.Entrypoint):
        cmd = state.cmd if state.cmd_from_stage else None
        return replace(state, entrypoint=i.command.argv(shell), cmd=cmd)
    if isinstance(i, ins.Workdir):
        path = posixpath.join(state.working_dir or "/", i.path)
        return replace(state, working_dir=posixpath.normpath(path))
    if isinstance(i, ins.User):
        return replace(state, user=i.user)
    if isinstance(i, ins.Expose):
        return replace(state, exposed_ports=_add_unique(state.exposed_ports, i.port_keys()))
    if isinstance(i, ins.Volume):
        return replace(state, volumes=_add_unique(state.volumes, i.paths))
    if isinstance(i, ins.Label):
        labels = dict(state.labels)
        labels.update(i.pairs)
        return replace(state, labels=tuple(labels.items()))
    if isinstance(i, ins.Stopsignal):
        return replace(state, stop_signal=i.signal)
    if isinstance(i, ins.Healthcheck):
        return replace(state, healthcheck=HealthConfig(i.test, i.interval, i.timeout,
                                                       i.start_period, i.start_interval,
                                                       i.retries))
    if isinstance(i, ins.Onbuild):
        return replace(state, on_build=(*state.on_build, i.expression))
    if isinstance(i, ins.Shell):
        return replace(state, shell=i.args)
    if isinstance(i, ins.Maintainer):
        return replace(state, author=i.name)
    return state


__all__ = ["DEFAULT_PATH", "DEFAULT_SHELL", "HealthConfig", "ImageConfigState", "apply",
           "start_stage"]
