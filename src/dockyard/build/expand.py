"""Variable substitution per instruction, where (and only where) docker applies it.

Expanded: ADD, COPY (sources, destination, ``--from``, ``--chown``, ``--chmod``,
``--checksum``, and the bodies of heredocs with an unquoted delimiter, quotes kept),
ENV, EXPOSE (word-split), LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and ARG defaults.
FROM is expanded by ``stages.py`` with the global args.
Never expanded: RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dockyard.build import instructions as ins
from dockyard.build.errors import DockerfileError
from dockyard.build.parser import Heredoc
from dockyard.build.shellwords import expand, expand_keep_quotes, expand_words
from dockyard.errors import InvalidArgument


def _located(i: ins.Instruction, e: InvalidArgument) -> DockerfileError:
    return DockerfileError(e.message, filename=i.loc.filename, line=i.loc.line,
                           source=i.loc.original)


def expand_instruction(i: ins.Instruction, env: Mapping[str, str],
                       escape: str = "\\") -> ins.Instruction:
    """``i`` with its words substituted from ``env`` (ARGs in scope, ENV overriding)."""
    try:
        return _expand(i, env, escape)
    except DockerfileError:
        raise
    except InvalidArgument as e:
        raise _located(i, e) from None


def _opt(v: str | None, env: Mapping[str, str], esc: str) -> str | None:
    return None if v is None else expand(v, env, esc)


def _src(word: str, env: Mapping[str, str], esc: str) -> str:
    return word if word.startswith("<<") else expand(word, env, esc)


def _docs(docs: tuple[Heredoc, ...], env: Mapping[str, str],
          esc: str) -> tuple[Heredoc, ...]:
    """COPY/ADD heredoc bodies: unquoted delimiters expand variables, keeping quotes."""
    return tuple(replace(d, content=expand_keep_quotes(d.content, env, esc)) if d.expand
                 else d for d in docs)


def _expand(i: ins.Instruction, env: Mapping[str, str], esc: str) -> ins.Instruction:
    x = lambda w: expand(w, env, esc)  # noqa: E731
    if isinstance(i, ins.Env | ins.Label):
        return replace(i, pairs=tuple((x(k), x(v)) for k, v in i.pairs))
    if isinstance(i, ins.Copy):
        return replace(i, sources=tuple(_src(s, env, esc) for s in i.sources),
                       dest=x(i.dest), from_=_opt(i.from_, env, esc),
                       chown=_opt(i.chown, env, esc), chmod=_opt(i.chmod, env, esc),
                       heredocs=_docs(i.heredocs, env, esc))
    if isinstance(i, ins.Add):
        return replace(i, sources=tuple(_src(s, env, esc) for s in i.sources),
                       dest=x(i.dest), chown=_opt(i.chown, env, esc),
                       chmod=_opt(i.chmod, env, esc), checksum=_opt(i.checksum, env, esc),
                       heredocs=_docs(i.heredocs, env, esc))
    if isinstance(i, ins.Expose):
        ports = tuple(p for w in i.ports for p in expand_words(w, env, esc))
        expanded = replace(i, ports=ports)
        try:
            expanded.port_keys()
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        return expanded
    if isinstance(i, ins.Volume):
        paths = tuple(x(p) for p in i.paths)
        if any(not p.strip() for p in paths):
            raise InvalidArgument("VOLUME specified can not be an empty string")
        return replace(i, paths=paths)
    if isinstance(i, ins.User):
        return replace(i, user=x(i.user))
    if isinstance(i, ins.Workdir):
        return replace(i, path=x(i.path))
    if isinstance(i, ins.Stopsignal):
        return replace(i, signal=x(i.signal))
    return i


__all__ = ["expand_instruction"]
