"""Stages, build args and the dependency graph: the :class:`BuildPlan`.

Scoping follows docker: ARGs before the first FROM are *global* and usable only in
FROM lines unless a stage redeclares them (``ARG NAME`` without a value takes the
global value); a stage's ARG gets its value from ``--build-arg``, else its default;
ENV always wins over an ARG of the same name. Platform args (``TARGETPLATFORM``,
``BUILDARCH``, ...) are predefined globally; proxy args (``HTTP_PROXY`` ...) reach
RUN steps without being declared but never expand words.

Each stage records the ARG values in scope at every step (:class:`Step`), which
the executor needs for RUN environments and cache keys. ``COPY --from`` and
``FROM <stage>`` become edges; the plan holds the stages ``--target`` needs, and
:meth:`BuildPlan.levels` groups them so independent stages can run in parallel.
"""

from __future__ import annotations

import platform as _platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from dockyard.build import instructions as ins
from dockyard.build.config import DEFAULT_PATH
from dockyard.build.convert import to_instruction
from dockyard.build.errors import DockerfileError, did_you_mean
from dockyard.build.expand import expand_instruction
from dockyard.build.parser import ParsedFile, RawInstruction, lex
from dockyard.build.shellwords import expand
from dockyard.errors import InvalidArgument

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
              "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
PLATFORM_ARGS = ("BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
                 "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT")
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm/v7", "i686": "386", "i386": "386", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64"}


def host_platform() -> str:
    """``linux/<arch>[/<variant>]`` of this machine, in OCI terms."""
    return "linux/" + _ARCH.get(_platform.machine().lower(), _platform.machine().lower())


def platform_args(build: str, target: str) -> dict[str, str]:
    """The predefined platform args for a build and a target platform."""
    out: dict[str, str] = {}
    for prefix, plat in (("BUILD", build), ("TARGET", target)):
        parts = plat.split("/")
        out[prefix + "PLATFORM"] = plat
        out[prefix + "OS"] = parts[0]
        out[prefix + "ARCH"] = parts[1] if len(parts) > 1 else ""
        out[prefix + "VARIANT"] = parts[2] if len(parts) > 2 else ""
    return out


@dataclass(frozen=True)
class Step:
    """One instruction of a stage, expanded, with the ARG values in scope for it."""

    instruction: ins.Instruction
    args: tuple[tuple[str, str], ...]
    trigger: bool = False      # inserted from the base image's ONBUILD list


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None
    base: str                     # image reference as expanded, or a stage's name
    base_stage: int | None        # index of the stage it builds on, if any
    platform: str | None
    from_: ins.From
    steps: tuple[Step, ...]
    deps: frozenset[int]          # stages it needs (FROM and COPY --from)
    env: tuple[tuple[str, str], ...]   # ENV at the end (base image's ENV if known)
    onbuild: tuple[str, ...] = ()      # its own ONBUILD expressions (run by children)

    @property
    def label(self) -> str:
        return self.name or str(self.index)


@dataclass(frozen=True)
class BuildPlan:
    """What the executor builds: stages in order, the target and what it needs."""

    filename: str
    escape: str
    directives: tuple[tuple[str, str], ...]
    global_args: tuple[tuple[str, str], ...]
    stages: tuple[Stage, ...]
    target: int
    needed: tuple[int, ...]       # ascending stage indices the target depends on
    unused_build_args: tuple[str, ...]
    warnings: tuple[str, ...] = ()   # docker's non-fatal complaints, located

    def stage(self, name_or_index: str | int) -> Stage:
        for s in self.stages:
            if s.index == name_or_index or (s.name and s.name == str(name_or_index).lower()):
                return s
        raise KeyError(name_or_index)

    def levels(self) -> tuple[tuple[int, ...], ...]:
        """Needed stages grouped in waves; stages in one wave do not depend on each other."""
        done: set[int] = set()
        waves: list[tuple[int, ...]] = []
        left = list(self.needed)
        while left:
            wave = tuple(i for i in left if self.stages[i].deps <= done)
            waves.append(wave)
            done.update(wave)
            left = [i for i in left if i not in done]
        return tuple(waves)


class _Walker:
    def __init__(self, parsed: ParsedFile, build_args: Mapping[str, str],
                 base_env: Callable[[str], Mapping[str, str]] | None,
                 platforms: dict[str, str],
                 base_onbuild: Callable[[str], Sequence[str]] | None = None) -> None:
        self.base_onbuild = base_onbuild
        self.p = parsed
        self.build_args = dict(build_args)
        self.base_env = base_env
        self.platforms = platforms
        self.declared: set[str] = set()

    def err(self, raw: RawInstruction | ins.Instruction, reason: str, hint: str = "",
            column: int | None = None) -> DockerfileError:
        if isinstance(raw, RawInstruction):
            return DockerfileError(reason, filename=self.p.filename, line=raw.line,
                                   column=column or raw.column, source=raw.source, hint=hint)
        src = self.p.lines[raw.loc.line - 1] if raw.loc.line <= len(self.p.lines) else ""
        return DockerfileError(reason, filename=self.p.filename, line=raw.loc.line,
                               column=column or (len(src) - len(src.lstrip()) + 1),
                               source=src, hint=hint)

    def typed(self, raw: RawInstruction) -> ins.Instruction:
        return to_instruction(raw, self.p.filename, self.p.escape)

    def global_args(self, raws: list[RawInstruction]) -> dict[str, str]:
        scope = dict(self.platforms)
        for raw in raws:
            if raw.keyword != "ARG":
                raise self.err(raw, "no build stage in current context "
                               f"({raw.keyword} before the first FROM)")
            arg = self.typed(raw)
            assert isinstance(arg, ins.Arg)
            for d in arg.args:
                self.declared.add(d.name)
                value = self.build_args.get(d.name)
                if value is None and d.default is not None:
                    value = self._x(arg, d.default, scope)
                if value is not None:
                    scope[d.name] = value
                else:
                    scope.pop(d.name, None)
        return scope

    def _x(self, i: ins.Instruction, word: str, env: Mapping[str, str],
           missing: set[str] | None = None) -> str:
        try:
            return expand(word, env, self.p.escape, missing)
        except InvalidArgument as e:
            raise self.err(i, e.message) from None

    def stage_from(self, raw: RawInstruction, index: int, gscope: Mapping[str, str],
                   names: dict[str, int]) -> tuple[ins.From, str, int | None]:
        f = self.typed(raw)
        assert isinstance(f, ins.From)
        missing: set[str] = set()
        image = self._x(f, f.image, gscope, missing)
        plat = self._x(f, f.platform, gscope, missing) if f.platform else None
        if missing:
            names_txt = ", ".join(sorted(missing))
            raise self.err(raw, f"FROM {f.image}: build arg {names_txt} is not set",
                           hint="declare it with a default before the first FROM or "
                                "pass --build-arg", column=raw.rest_column)
        if not image:
            raise self.err(raw, f"base name ({f.image}) should not be blank")
        base_stage = names.get(image.lower())
        if base_stage is not None and base_stage >= index:
            base_stage = None
        return replace(f, image=image, platform=plat), image, base_stage

    def walk(self) -> tuple[dict[str, str], list[Stage]]:
        raws = list(self.p.instructions)
        first = next((k for k, r in enumerate(raws) if r.keyword == "FROM"), None)
        if first is None:
            if raws:
                raise self.err(raws[0], "no build stage in current context "
                               f"({raws[0].keyword} before the first FROM)")
            raise DockerfileError("the Dockerfile has no instructions (file with no "
                                  "instructions)", filename=self.p.filename)
        gscope = self.global_args(raws[:first])
        groups: list[list[RawInstruction]] = []
        for raw in raws[first:]:
            if raw.keyword == "FROM":
                groups.append([raw])
            else:
                groups[-1].append(raw)
        names: dict[str, int] = {}
        for k, g in enumerate(groups):
            f = self.typed(g[0])
            assert isinstance(f, ins.From)
            if f.name:
                if f.name in names:
                    raise self.err(g[0], f"duplicate stage name {f.name!r}")
                names[f.name] = k
        stages: list[Stage] = []
        for k, g in enumerate(groups):
            stages.append(self.stage(k, g, gscope, names, stages))
        return gscope, stages

    def stage(self, index: int, group: list[RawInstruction], gscope: Mapping[str, str],
              names: dict[str, int], done: list[Stage]) -> Stage:
        f, image, base_stage = self.stage_from(group[0], index, gscope, names)
        env: dict[str, str] = {}
        if base_stage is not None:
            env = dict(done[base_stage].env)
        elif self.base_env is not None and image != "scratch":
            env = dict(self.base_env(image))
        if base_stage is None:
            env.setdefault("PATH", DEFAULT_PATH)   # docker adds it to every base
        args: dict[str, str] = {}
        deps = {base_stage} if base_stage is not None else set()
        steps: list[Step] = []
        triggers = self.triggers(group[0], image, base_stage, done)
        for raw, is_trigger in [*((t, True) for t in triggers),
                                *((r, False) for r in group[1:])]:
            i = self.typed(raw)
            scope = {**args, **env}
            if isinstance(i, ins.Arg):
                for d in i.args:
                    self.declared.add(d.name)
                    value = self.build_args.get(d.name)
                    if value is None and d.default is not None:
                        value = self._x(i, d.default, scope)
                    if value is None:
                        value = gscope.get(d.name)
                    if value is not None:
                        args[d.name] = value
                        scope = {**args, **env}
                i = replace(i, args=tuple(ins.ArgDef(d.name, args.get(d.name))
                                          for d in i.args))
            elif not isinstance(i, ins.Onbuild):
                i = expand_instruction(i, scope, self.p.escape)
            if isinstance(i, ins.Env):
                for key, value in i.pairs:
                    env.pop(key, None)
                    env[key] = value
            if isinstance(i, ins.Copy) and i.from_ is not None:
                i, dep = self.resolve_from(raw, i, index, names)
                if dep is not None:
                    deps.add(dep)
            if isinstance(i, ins.Run):
                for m in i.mounts:   # RUN --mount=from=<stage> needs that stage too
                    ref = (m.from_ or "").lower()
                    n = int(ref) if ref.isdigit() else names.get(ref)
                    if n is not None and n < index:
                        deps.add(n)
                    elif n is not None:
                        raise self.err(raw, f"RUN --mount from={m.from_}: refers to the "
                                       "current or a later build stage")
            run_args = {**{k: v for k, v in self.build_args.items() if k in PROXY_ARGS},
                        **args}
            steps.append(Step(i, tuple(sorted(run_args.items())), is_trigger))
        onbuild = tuple(st.instruction.expression for st in steps
                        if isinstance(st.instruction, ins.Onbuild))
        return Stage(index, f.name, image, base_stage, f.platform, f, tuple(steps),
                     frozenset(deps), tuple(env.items()), onbuild)

    def triggers(self, from_raw: RawInstruction, image: str, base_stage: int | None,
                 done: list[Stage]) -> list[RawInstruction]:
        """The base's ONBUILD triggers as raw instructions located at the FROM line."""
        if base_stage is not None:
            exprs: Sequence[str] = done[base_stage].onbuild
        elif self.base_onbuild is not None and image != "scratch":
            exprs = self.base_onbuild(image)
        else:
            return []
        out = []
        for expr in exprs:
            for raw in lex(expr, self.p.filename).instructions:
                if raw.keyword in ("ONBUILD", "FROM", "MAINTAINER"):
                    raise self.err(from_raw, f"base image {image}: {raw.keyword} isn't "
                                   "allowed as an ONBUILD trigger")
                out.append(replace(raw, line=from_raw.line, end_line=from_raw.end_line,
                                   source=from_raw.source, column=from_raw.column))
        return out

    def resolve_from(self, raw: RawInstruction, c: ins.Copy, index: int,
                     names: dict[str, int]) -> tuple[ins.Copy, int | None]:
        ref = c.from_ or ""
        if ref.isdigit():
            n = int(ref)
            if n >= index:
                raise self.err(raw, f"COPY --from={ref}: refers to the current or a later "
                               f"build stage (stage {index} can use 0..{index - 1})")
            return replace(c, from_stage=n), n
        n2 = names.get(ref.lower())
        if n2 is None:
            # an image reference; warn-worthy look-alikes become errors only if
            # they cannot be an image name (upper case letters are never valid)
            if ref != ref.lower() or not ref:
                raise self.err(raw, f"COPY --from={ref}: no such stage or invalid image "
                               "reference", did_you_mean(ref, list(names)).lower())
            return c, None
        if n2 == index:
            raise self.err(raw, f"COPY --from={ref}: a stage cannot copy from itself")
        return replace(c, from_stage=n2), n2


def _cycle(stages: list[Stage], filename: str, lines: tuple[str, ...]) -> None:
    state: dict[int, int] = {}

    def visit(k: int, path: list[int]) -> None:
        state[k] = 1
        for d in sorted(stages[k].deps):
            if state.get(d) == 1:
                chain = " -> ".join(stages[i].label for i in [*path, k, d][path.index(d)
                                    if d in path else 0:])
                line = stages[k].from_.loc.line
                raise DockerfileError(f"circular dependency detected on stage: "
                                      f"{stages[d].label} ({chain})", filename=filename,
                                      line=line, source=lines[line - 1])
            if state.get(d) is None:
                visit(d, [*path, k])
        state[k] = 2

    for s in stages:
        if s.index not in state:
            visit(s.index, [])


def _needed(stages: list[Stage], target: int) -> tuple[int, ...]:
    seen: set[int] = set()
    todo = [target]
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        seen.add(k)
        todo.extend(stages[k].deps)
    return tuple(sorted(seen))


def parse_dockerfile(text: str, *, filename: str = "Dockerfile",
                     build_args: Mapping[str, str] | None = None,
                     target: str | None = None,
                     base_env: Callable[[str], Mapping[str, str]] | None = None,
                     base_onbuild: Callable[[str], Sequence[str]] | None = None,
                     build_platform: str | None = None,
                     target_platform: str | None = None) -> BuildPlan:
    """Parse, type, expand and plan a Dockerfile (raises DockerfileError on bad input).

    ``base_env(image)`` may give an external base image's ENV so that words using
    it expand like docker's; without it only the Dockerfile's own ENV is known.
    ``base_onbuild(image)`` gives its ONBUILD list: those triggers become the
    stage's first steps (``Step.trigger``), as docker runs them right after FROM;
    an earlier stage's ONBUILD instructions run likewise in stages built on it.
    """
    parsed = lex(text, filename)
    bp = build_platform or host_platform()
    walker = _Walker(parsed, build_args or {}, base_env,
                     platform_args(bp, target_platform or bp), base_onbuild)
    gscope, stages = walker.walk()
    _cycle(stages, filename, parsed.lines)
    if target is None:
        tindex = len(stages) - 1
    else:
        match = [s.index for s in stages if s.name == target.lower()]
        if not match:
            raise DockerfileError(f"target stage {target!r} could not be found",
                                  filename=filename,
                                  hint=did_you_mean(target, [s.name for s in stages
                                                             if s.name]).lower())
        tindex = match[0]
    unused = tuple(sorted(k for k in (build_args or {})
                          if k not in walker.declared and k not in PROXY_ARGS
                          and k not in PLATFORM_ARGS))
    return BuildPlan(filename, parsed.escape, tuple(parsed.directives.items()),
                     tuple((k, v) for k, v in gscope.items() if k not in PLATFORM_ARGS),
                     tuple(stages), tindex, _needed(stages, tindex), unused,
                     _warnings(parsed, unused))


def _warnings(parsed: ParsedFile, unused: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for raw in parsed.instructions:
        where = f"{parsed.filename}:{raw.line}"
        if raw.empty_continuation:
            out.append(f"{where}: empty continuation line (deprecated; a future docker "
                       "will treat it as the end of the instruction)")
        if raw.keyword == "MAINTAINER":
            out.append(f"{where}: MAINTAINER is deprecated, use LABEL maintainer=...")
        if raw.keyword in ("ENV", "LABEL") and raw.rest and "=" not in raw.rest.split()[0]:
            out.append(f"{where}: legacy '{raw.keyword} key value' form; prefer "
                       f"'{raw.keyword} key=value'")
    if unused:
        out.append(f"one or more build-args {list(unused)} were not consumed")
    return tuple(out)


__all__ = [
    "PLATFORM_ARGS",
    "PROXY_ARGS",
    "BuildPlan",
    "Stage",
    "Step",
    "host_platform",
    "parse_dockerfile",
    "platform_args",
]
