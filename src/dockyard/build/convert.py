"""Raw instructions to typed ones: argument forms, flags and their validation.

Follows docker's rules per instruction: JSON (exec) form only when the arguments
are a valid JSON array of strings (anything else falls back to shell form), the
old ``ENV k v`` / ``LABEL k v`` forms, flag sets per instruction, ``RUN --mount``
options, HEALTHCHECK durations and ONBUILD's forbidden triggers. Values are kept
as written here; ``expand.py`` substitutes variables later, with the environment
in effect at that point of the stage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace

from dockyard.build import instructions as ins
from dockyard.build.errors import DockerfileError, did_you_mean
from dockyard.build.parser import Flag, RawInstruction
from dockyard.build.shellwords import split_words_raw

KEYWORDS = ("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
            "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL",
            "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")

_FLAGS: dict[str, dict[str, str]] = {   # flag -> kind: str, bool, multi
    "FROM": {"platform": "str"},
    "RUN": {"mount": "multi", "network": "str", "security": "str"},
    "ADD": {"chown": "str", "chmod": "str", "checksum": "str", "keep-git-dir": "bool",
            "link": "bool", "exclude": "multi"},
    "COPY": {"from": "str", "chown": "str", "chmod": "str", "link": "bool",
             "parents": "bool", "exclude": "multi"},
    "HEALTHCHECK": {"interval": "str", "timeout": "str", "start-period": "str",
                    "start-interval": "str", "retries": "str"},
}
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")
_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}


class _Ctx:
    """The raw instruction plus helpers that raise located errors."""

    def __init__(self, raw: RawInstruction, filename: str) -> None:
        self.raw = raw
        self.filename = filename
        self.loc = ins.Location(filename, raw.line, raw.end_line, raw.original)

    def error(self, reason: str, column: int | None = None, hint: str = "") -> DockerfileError:
        return DockerfileError(reason, filename=self.filename, line=self.raw.line,
                               column=column or self.raw.column, source=self.raw.source,
                               hint=hint)

    def flags(self) -> dict[str, object]:
        allowed = _FLAGS.get(self.raw.keyword, {})
        out: dict[str, object] = {}
        for f in self.raw.flags:
            kind = allowed.get(f.name)
            if kind is None:
                raise self.error(f"unknown flag: --{f.name}", f.column,
                                 did_you_mean(f.name, list(allowed)).lower()
                                 .replace("mean ", "mean --"))
            out[f.name] = self._flag_value(f, kind, out.get(f.name))
        return out

    def _flag_value(self, f: Flag, kind: str, prev: object) -> object:
        if kind == "bool":
            if prev is not None:
                raise self.error(f"duplicate flag specified: --{f.name}", f.column)
            if f.value is None or f.value.lower() == "true":
                return True
            if f.value.lower() == "false":
                return False
            raise self.error(f"expecting boolean value for flag --{f.name}, not: "
                             f"{f.value}", f.column)
        if f.value is None:
            raise self.error(f"missing a value on flag: --{f.name}", f.column)
        if kind == "multi":
            return (*(prev or ()), f.value)  # type: ignore[misc]
        if prev is not None:
            raise self.error(f"duplicate flag specified: --{f.name}", f.column)
        return f.value


def parse_json_array(text: str) -> tuple[str, ...] | None:
    """The strings of a JSON array, or None when ``text`` is not one (docker's rule)."""
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(value)


def _command(c: _Ctx) -> ins.Command:
    argv = parse_json_array(c.raw.rest)
    if argv is not None:
        return ins.Command(argv, shell=False)
    return ins.Command((c.raw.rest,), shell=True)


def _name_values(c: _Ctx, what: str) -> tuple[tuple[str, str], ...]:
    """``ENV``/``LABEL`` pairs: ``k=v ...`` or the old ``k v`` form (raw, unexpanded)."""
    rest = c.raw.rest
    words = split_words_raw(rest, c.raw_escape)
    if not words:
        raise c.error(f"{what} requires at least one argument")
    if "=" not in words[0]:
        parts = re.split(r"[ \t]+", rest, maxsplit=1)
        if len(parts) < 2:
            raise c.error(f"{what} must have two arguments")
        return ((parts[0], parts[1]),)
    pairs = []
    for w in words:
        if "=" not in w:
            raise c.error(f"syntax error - can't find = in {w!r}. Must be of the form: "
                          "name=value")
        k, _, v = w.partition("=")
        if not k:
            raise c.error(f"{what} names can not be blank")
        pairs.append((k, v))
    return tuple(pairs)


def parse_duration(text: str) -> int:
    """A Go duration (``1m30s``, ``1.5h``, ``300ms``) in nanoseconds."""
    s = text.strip()
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if not m or m.group(1) in ("", "."):
            raise ValueError(f"time: invalid duration {text!r}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s:
        raise ValueError(f"time: invalid duration {text!r}")
    return sign * round(total)


def _hc_duration(c: _Ctx, flags: dict[str, object], name: str) -> int:
    raw = flags.get(name)
    if raw is None:
        return 0
    try:
        ns = parse_duration(str(raw))
    except ValueError as e:
        raise c.error(f"--{name}: {e}") from None
    if ns == 0:
        return 0
    if ns < 0:
        raise c.error(f"--{name}: {raw} cannot be negative")
    if ns < 1_000_000:
        raise c.error(f"--{name}: {raw} cannot be less than 1ms")
    return ns


def _from(c: _Ctx) -> ins.Instruction:
    flags = c.flags()
    words = c.raw.rest.split()
    if len(words) not in (1, 3):
        raise c.error("FROM requires either one or three arguments")
    name = None
    if len(words) == 3:
        if words[1].upper() != "AS":
            raise c.error("FROM requires either one or three arguments (the second "
                          "must be AS)")
        name = words[2].lower()
        if not _STAGE_NAME.match(name):
            raise c.error(f"invalid name for build stage: {words[2]!r}, name can't start "
                          "with a number or contain symbols")
    return ins.From(c.loc, words[0], name, flags.get("platform"))  # type: ignore[arg-type]


def _run(c: _Ctx) -> ins.Instruction:
    from dockyard.build.mounts import parse_mount

    flags = c.flags()
    mounts = []
    for spec in flags.get("mount", ()):  # type: ignore[union-attr]
        try:
            mounts.append(parse_mount(str(spec)))
        except ValueError as e:
            raise c.error(f"--mount={spec}: {e}") from None
    network = str(flags.get("network", "default"))
    if network not in ("default", "none", "host"):
        raise c.error(f"unsupported network mode {network!r} (default, none or host)")
    security = str(flags.get("security", "sandbox"))
    if security not in ("sandbox", "insecure"):
        raise c.error(f"unsupported security mode {security!r} (sandbox or insecure)")
    if not c.raw.rest and not c.raw.heredocs:
        raise c.error("RUN requires at least one argument")
    return ins.Run(c.loc, _command(c), tuple(mounts), network, security, c.raw.heredocs)


def _cmd_like(cls: type) -> Callable[[_Ctx], ins.Instruction]:
    def build(c: _Ctx) -> ins.Instruction:
        c.flags()
        if not c.raw.rest:
            raise c.error(f"{c.raw.keyword} requires at least one argument")
        return cls(c.loc, _command(c))
    return build


def _label(c: _Ctx) -> ins.Instruction:
    c.flags()
    return ins.Label(c.loc, _name_values(c, "LABEL"))


def _env(c: _Ctx) -> ins.Instruction:
    c.flags()
    return ins.Env(c.loc, _name_values(c, "ENV"))


def _arg(c: _Ctx) -> ins.Instruction:
    c.flags()
    words = split_words_raw(c.raw.rest, c.raw_escape)
    if not words:
        raise c.error("ARG requires at least one argument")
    defs = []
    for w in words:
        name, eq, value = w.partition("=")
        if not name:
            raise c.error("ARG names can not be blank")
        defs.append(ins.ArgDef(name, value if eq else None))
    return ins.Arg(c.loc, tuple(defs))


def _sources_dest(c: _Ctx) -> tuple[tuple[str, ...], str]:
    words = parse_json_array(c.raw.rest)
    if words is None:
        words = tuple(split_words_raw(c.raw.rest, c.raw_escape))
    need = 1 if c.raw.heredocs else 2
    if len(words) < need:
        raise c.error(f"{c.raw.keyword} requires at least two arguments, but got "
                      f"{len(words)}")
    return tuple(words[:-1]), words[-1]


def _add(c: _Ctx) -> ins.Instruction:
    f = c.flags()
    srcs, dest = _sources_dest(c)
    return ins.Add(c.loc, srcs, dest, f.get("chown"), f.get("chmod"),  # type: ignore[arg-type]
                   f.get("checksum"), bool(f.get("keep-git-dir", False)),  # type: ignore[arg-type]
                   bool(f.get("link", False)), tuple(f.get("exclude", ())),  # type: ignore[arg-type]
                   c.raw.heredocs)


def _copy(c: _Ctx) -> ins.Instruction:
    f = c.flags()
    srcs, dest = _sources_dest(c)
    return ins.Copy(c.loc, srcs, dest, f.get("from"), f.get("chown"),  # type: ignore[arg-type]
                    f.get("chmod"), bool(f.get("link", False)),  # type: ignore[arg-type]
                    bool(f.get("parents", False)), tuple(f.get("exclude", ())),  # type: ignore[arg-type]
                    c.raw.heredocs)


def _volume(c: _Ctx) -> ins.Instruction:
    c.flags()
    paths = parse_json_array(c.raw.rest)
    if paths is None:
        paths = tuple(c.raw.rest.split())
    if not paths:
        raise c.error("VOLUME requires at least one argument")
    if any(not p.strip() for p in paths):
        raise c.error("VOLUME specified can not be an empty string")
    return ins.Volume(c.loc, paths)


def _one(cls: type, what: str) -> Callable[[_Ctx], ins.Instruction]:
    def build(c: _Ctx) -> ins.Instruction:
        c.flags()
        # docker takes the whole rest as one string (``WORKDIR /my dir`` works)
        if not c.raw.rest:
            raise c.error(f"{what} requires exactly one argument")
        return cls(c.loc, c.raw.rest)
    return build


def _expose(c: _Ctx) -> ins.Instruction:
    c.flags()
    words = split_words_raw(c.raw.rest, c.raw_escape)
    if not words:
        raise c.error("EXPOSE requires at least one argument")
    return ins.Expose(c.loc, tuple(words))


def _maintainer(c: _Ctx) -> ins.Instruction:
    c.flags()
    if not c.raw.rest:
        raise c.error("MAINTAINER requires exactly one argument")
    return ins.Maintainer(c.loc, c.raw.rest)


def _shell(c: _Ctx) -> ins.Instruction:
    c.flags()
    args = parse_json_array(c.raw.rest)
    if args is None:
        raise c.error("SHELL requires the arguments to be in JSON form",
                      c.raw.rest_column)
    if not args:
        raise c.error("SHELL requires at least one argument")
    return ins.Shell(c.loc, args)


def _healthcheck(c: _Ctx) -> ins.Instruction:
    f = c.flags()
    parts = c.raw.rest.split(None, 1)
    kind = parts[0].upper() if parts else ""
    if kind == "NONE":
        if len(parts) > 1 or c.raw.flags:
            raise c.error("HEALTHCHECK NONE takes no arguments")
        return ins.Healthcheck(c.loc, ("NONE",))
    if kind != "CMD":
        raise c.error(f"unknown type {kind!r} in HEALTHCHECK (try CMD)")
    if len(parts) < 2:
        raise c.error("missing command after HEALTHCHECK CMD")
    argv = parse_json_array(parts[1])
    test = ("CMD", *argv) if argv is not None else ("CMD-SHELL", parts[1])
    retries = 0
    if "retries" in f:
        try:
            retries = int(str(f["retries"]))
        except ValueError:
            raise c.error(f"--retries: invalid number {f['retries']!r}") from None
        if retries < 0:
            raise c.error(f"--retries cannot be negative ({retries})")
    return ins.Healthcheck(c.loc, test, _hc_duration(c, f, "interval"),
                           _hc_duration(c, f, "timeout"), _hc_duration(c, f, "start-period"),
                           _hc_duration(c, f, "start-interval"), retries)


def _onbuild(c: _Ctx) -> ins.Instruction:
    c.flags()
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", c.raw.original, count=1)
    first = expression.split(None, 1)[0].upper() if expression.strip() else ""
    if not first:
        raise c.error("ONBUILD requires at least one argument")
    if first == "ONBUILD":
        raise c.error("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if first in ("FROM", "MAINTAINER"):
        raise c.error(f"{first} isn't allowed as an ONBUILD trigger")
    from dockyard.build.parser import _make

    inner = _make(expression, [], c.filename, c.raw.line, c.raw.end_line,
                  c.raw.column, c.raw.source, False)
    inner = replace(inner, heredocs=c.raw.heredocs)
    trigger = to_instruction(inner, c.filename, c.raw_escape)
    return ins.Onbuild(c.loc, expression, trigger)


_BUILDERS: dict[str, Callable[[_Ctx], ins.Instruction]] = {
    "FROM": _from, "RUN": _run, "CMD": _cmd_like(ins.Cmd),
    "ENTRYPOINT": _cmd_like(ins.Entrypoint), "LABEL": _label, "EXPOSE": _expose,
    "ENV": _env, "ARG": _arg, "ADD": _add, "COPY": _copy, "VOLUME": _volume,
    "USER": _one(ins.User, "USER"), "WORKDIR": _one(ins.Workdir, "WORKDIR"),
    "ONBUILD": _onbuild, "STOPSIGNAL": _one(ins.Stopsignal, "STOPSIGNAL"),
    "HEALTHCHECK": _healthcheck, "SHELL": _shell, "MAINTAINER": _maintainer,
}


def to_instruction(raw: RawInstruction, filename: str, escape: str = "\\") -> ins.Instruction:
    """Give one raw instruction its typed form, or raise a located DockerfileError."""
    c = _Ctx(raw, filename)
    c.raw_escape = escape  # type: ignore[attr-defined]
    build = _BUILDERS.get(raw.keyword)
    if build is None:
        word = raw.original.split(None, 1)[0]
        raise c.error(f"unknown instruction: {word}", hint=did_you_mean(word, KEYWORDS))
    return build(c)


def parse_triggers(expressions: tuple[str, ...] | list[str],
                   filename: str = "ONBUILD") -> tuple[ins.Instruction, ...]:
    """A base image's ``OnBuild`` list as instructions (unexpanded), for the executor
    to run right after FROM; line N is the N-th trigger. Forbidden triggers fail."""
    from dockyard.build.parser import lex

    out: list[ins.Instruction] = []
    for n, expr in enumerate(expressions, 1):
        wrapped = lex(f"ONBUILD {expr}", filename).instructions
        if len(wrapped) != 1:
            raise DockerfileError(f"invalid ONBUILD trigger {expr!r}", filename=filename,
                                  line=n, source=expr)
        raw = replace(wrapped[0], line=n, end_line=n)
        onbuild = to_instruction(raw, filename)
        assert isinstance(onbuild, ins.Onbuild)
        out.append(onbuild.trigger)
    return tuple(out)


def expose_keys(ports: tuple[str, ...]) -> tuple[str, ...]:
    """docker's ExposedPorts keys: ``80`` -> ``80/tcp``; ranges give one key each."""
    keys: list[str] = []
    for spec in ports:
        port, _, proto = spec.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise ValueError(f"invalid proto: {proto}")
        lo, dash, hi = port.partition("-")
        try:
            start = int(lo)
            end = int(hi) if dash else start
        except ValueError:
            raise ValueError(f"invalid containerPort: {port}") from None
        if not (0 <= start <= 65535 and 0 <= end <= 65535) or end < start:
            raise ValueError(f"invalid range specified for container port: {port}")
        keys.extend(f"{p}/{proto}" for p in range(start, end + 1))
    return tuple(keys)


__all__ = ["KEYWORDS", "expose_keys", "parse_duration", "parse_json_array",
           "parse_triggers", "to_instruction"]
