"""Typed Dockerfile instructions: one frozen dataclass per instruction.

These are what the executor consumes. Fields hold values *after* docker's
variable substitution for the instructions docker expands (see ``stages.py``);
``RUN``/``CMD``/``ENTRYPOINT``/``SHELL``/``HEALTHCHECK`` are never expanded here
(the shell does that at run time). Durations are integer nanoseconds, as in the
image config. Every instruction carries its :class:`Location`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.build.parser import Heredoc


@dataclass(frozen=True)
class Location:
    """Where an instruction was written (1-based lines) and its logical text."""

    filename: str
    line: int
    end_line: int
    original: str


@dataclass(frozen=True)
class Command:
    """A command in exec form (``shell=False``) or shell form (one string in ``args``,
    to be run through the stage's SHELL)."""

    args: tuple[str, ...]
    shell: bool

    def argv(self, shell: tuple[str, ...]) -> tuple[str, ...]:
        """The argv docker stores in the config: shell form is ``shell + (cmd,)``."""
        return shell + self.args if self.shell else self.args


@dataclass(frozen=True)
class Instruction:
    loc: Location


@dataclass(frozen=True)
class From(Instruction):
    image: str
    name: str | None = None
    platform: str | None = None


@dataclass(frozen=True)
class Mount:
    """A ``RUN --mount``: type is bind, cache, tmpfs, secret or ssh."""

    type: str
    target: str | None = None
    source: str | None = None
    from_: str | None = None
    id: str | None = None
    readonly: bool = False
    sharing: str = "shared"
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: int | None = None
    env: str | None = None


@dataclass(frozen=True)
class Run(Instruction):
    command: Command
    mounts: tuple[Mount, ...] = ()
    network: str = "default"
    security: str = "sandbox"
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True)
class Cmd(Instruction):
    command: Command


@dataclass(frozen=True)
class Entrypoint(Instruction):
    command: Command


@dataclass(frozen=True)
class Label(Instruction):
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Expose(Instruction):
    ports: tuple[str, ...]      # as written/expanded, e.g. "80", "53/udp", "8000-8002"

    def port_keys(self) -> tuple[str, ...]:
        """The ``ExposedPorts`` keys docker records (ranges expanded, proto added)."""
        from dockyard.build.convert import expose_keys

        return expose_keys(self.ports)


@dataclass(frozen=True)
class Env(Instruction):
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ArgDef:
    name: str
    default: str | None = None


@dataclass(frozen=True)
class Arg(Instruction):
    args: tuple[ArgDef, ...]


@dataclass(frozen=True)
class Add(Instruction):
    sources: tuple[str, ...]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    checksum: str | None = None
    keep_git_dir: bool = False
    link: bool = False
    exclude: tuple[str, ...] = ()
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True)
class Copy(Instruction):
    sources: tuple[str, ...]
    dest: str
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    exclude: tuple[str, ...] = ()
    heredocs: tuple[Heredoc, ...] = ()
    from_stage: int | None = None   # resolved by stages.py: index of an earlier stage


@dataclass(frozen=True)
class Volume(Instruction):
    paths: tuple[str, ...]


@dataclass(frozen=True)
class User(Instruction):
    user: str


@dataclass(frozen=True)
class Workdir(Instruction):
    path: str


@dataclass(frozen=True)
class Onbuild(Instruction):
    expression: str             # what docker stores in the config's OnBuild list
    trigger: Instruction = field(compare=False)


@dataclass(frozen=True)
class Stopsignal(Instruction):
    signal: str


@dataclass(frozen=True)
class Healthcheck(Instruction):
    """``test`` is ``("NONE",)``, ``("CMD", ...)`` or ``("CMD-SHELL", cmd)``."""

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True)
class Shell(Instruction):
    args: tuple[str, ...]


@dataclass(frozen=True)
class Maintainer(Instruction):
    name: str


__all__ = ["Add", "Arg", "ArgDef", "Cmd", "Command", "Copy", "Entrypoint", "Env",
           "Expose", "From", "Healthcheck", "Instruction", "Label", "Location",
           "Maintainer", "Mount", "Onbuild", "Run", "Shell", "Stopsignal", "User",
           "Volume", "Workdir"]
