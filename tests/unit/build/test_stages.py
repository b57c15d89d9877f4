"""Stages, ARG/ENV scoping and precedence, FROM expansion, --from, targets, cycles."""

from __future__ import annotations

import pytest

from dockyard.build import instructions as ins
from dockyard.build.errors import DockerfileError
from dockyard.build.stages import BuildPlan, parse_dockerfile, platform_args


def plan(text: str, **kw: object) -> BuildPlan:
    kw.setdefault("build_platform", "linux/amd64")
    return parse_dockerfile(text, **kw)  # type: ignore[arg-type]


def steps(p: BuildPlan, stage: int = -1) -> list[ins.Instruction]:
    return [s.instruction for s in p.stages[stage].steps]


def env_of(p: BuildPlan, stage: int = -1) -> dict[str, str]:
    env = dict(p.stages[stage].env)
    env.pop("PATH")
    return env


def test_default_path_added_like_docker() -> None:
    p = plan("FROM x\nWORKDIR $PATH\n")
    assert steps(p)[-1].path == ("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                 "/sbin:/bin")
    p2 = plan("FROM x\nWORKDIR $PATH\n", base_env=lambda ref: {"PATH": "/mine"})
    assert steps(p2)[-1].path == "/mine"


def test_single_stage_defaults() -> None:
    p = plan("FROM busybox\nRUN true\n")
    assert len(p.stages) == 1 and p.target == 0 and p.needed == (0,)
    assert p.stages[0].base == "busybox" and p.stages[0].base_stage is None


def test_env_expansion_and_quotes() -> None:
    p = plan('FROM x\nENV A=1 B="two words" C=\'$A\'\nENV D=${A}-$B E="$A"\n')
    assert env_of(p) == {"A": "1", "B": "two words", "C": "$A", "D": "1-two words",
                         "E": "1"}


def test_env_same_line_uses_previous_values() -> None:
    p = plan("FROM x\nENV A=1\nENV A=2 B=$A\n")
    assert env_of(p) == {"A": "2", "B": "1"}


def test_env_old_form_value_expanded() -> None:
    p = plan("FROM x\nENV A hello\nENV B $A world  x\n")
    assert env_of(p)["B"] == "hello world  x"


def test_env_escaped_dollar() -> None:
    p = plan("FROM x\nENV A=\\$HOME B=\"\\$HOME\"\n")
    assert env_of(p) == {"A": "$HOME", "B": "$HOME"}


def test_label_expansion_and_quoting() -> None:
    p = plan('FROM x\nARG V=1.0\nLABEL "com.x.version"="$V" desc=\'$V raw\' '
             'multi="a\\\nb"\n')
    (label,) = [i for i in steps(p) if isinstance(i, ins.Label)]
    assert label.pairs == (("com.x.version", "1.0"), ("desc", "$V raw"), ("multi", "ab"))


def test_arg_default_and_build_arg_override() -> None:
    text = "FROM x\nARG A=def\nARG B\nWORKDIR /$A/$B\n"
    assert steps(plan(text))[-1].path == "/def/"
    assert steps(plan(text, build_args={"A": "x", "B": "y"}))[-1].path == "/x/y"


def test_arg_not_usable_before_declaration() -> None:
    p = plan("FROM x\nWORKDIR /$A\nARG A=1\nWORKDIR /$A\n", build_args={"A": "z"})
    assert [i.path for i in steps(p) if isinstance(i, ins.Workdir)] == ["/", "/z"]


def test_env_overrides_arg_of_same_name() -> None:
    p = plan("FROM x\nARG V=arg\nENV V=env\nARG V=again\nUSER $V\n",
             build_args={"V": "cli"})
    assert steps(p)[-1].user == "env"


def test_global_arg_only_in_from_unless_redeclared() -> None:
    p = plan("ARG BASE=busybox\nARG V=1\nFROM $BASE\nUSER u$V\nARG V\nWORKDIR /$V\n")
    assert p.stages[0].base == "busybox"
    u, _, w = steps(p)
    assert u.user == "u" and w.path == "/1"


def test_global_arg_build_arg_override_in_from() -> None:
    p = plan("ARG TAG=1\nFROM busybox:${TAG}\n", build_args={"TAG": "2"})
    assert p.stages[0].base == "busybox:2"
    assert p.global_args == (("TAG", "2"),)


def test_stage_arg_default_beats_global_value() -> None:
    p = plan("ARG V=global\nFROM x\nARG V=local\nUSER $V\n")
    assert steps(p)[-1].user == "local"


def test_arg_scope_ends_with_stage() -> None:
    p = plan("FROM x AS a\nARG V=1\nFROM x\nUSER [$V]\n")
    assert steps(p)[-1].user == "[]"


def test_env_inherited_from_stage_base() -> None:
    p = plan("FROM x AS base\nENV P=/opt\nFROM base\nWORKDIR $P/app\n")
    assert steps(p)[-1].path == "/opt/app"
    assert p.stages[1].base_stage == 0 and p.stages[1].deps == {0}


def test_base_env_callback_for_external_images() -> None:
    p = plan("FROM img\nWORKDIR $HOME\n", base_env=lambda ref: {"HOME": f"/h/{ref}"})
    assert steps(p)[-1].path == "/h/img"


def test_arg_default_expands_previous_args() -> None:
    p = plan("FROM x\nARG A=1\nARG B=${A}2\nUSER $B\n")
    assert steps(p)[-1].user == "12"
    assert steps(p)[1].args == (ins.ArgDef("B", "12"),)


def test_step_args_for_run_env() -> None:
    p = plan("FROM x\nARG A=1\nRUN env\n", build_args={"HTTP_PROXY": "http://p",
                                                      "UNUSED": "1"})
    assert p.stages[0].steps[1].args == (("A", "1"), ("HTTP_PROXY", "http://p"))
    assert p.unused_build_args == ("UNUSED",)


def test_proxy_args_do_not_expand_words() -> None:
    p = plan("FROM x\nWORKDIR /$HTTP_PROXY\n", build_args={"HTTP_PROXY": "p"})
    assert steps(p)[-1].path == "/"
    assert p.unused_build_args == ()


def test_platform_args_in_from_and_redeclared() -> None:
    p = plan("FROM --platform=$BUILDPLATFORM img-$TARGETARCH\nUSER $TARGETOS\n"
             "ARG TARGETARCH\nWORKDIR /$TARGETARCH\n", target_platform="linux/arm64/v8")
    s = p.stages[0]
    assert s.base == "img-arm64" and s.platform == "linux/amd64"
    assert steps(p)[0].user == ""
    assert steps(p)[-1].path == "/arm64"


def test_platform_args_values() -> None:
    a = platform_args("linux/amd64", "linux/arm/v7")
    assert (a["BUILDARCH"], a["TARGETARCH"], a["TARGETVARIANT"], a["TARGETOS"]) == (
        "amd64", "arm", "v7", "linux")


def test_missing_build_arg_in_from_is_an_error() -> None:
    text = "ARG TAG\nFROM busybox:${TAG}\n"
    with pytest.raises(DockerfileError, match=r"Dockerfile:2: FROM busybox:\$\{TAG\}: "
                       r"build arg TAG is not set") as e:
        plan(text)
    assert e.value.column == 6
    assert plan(text, build_args={"TAG": "1"}).stages[0].base == "busybox:1"


def test_from_arg_with_default_modifier_is_fine() -> None:
    assert plan("FROM busybox:${TAG:-latest}\n").stages[0].base == "busybox:latest"


def test_from_blank_base() -> None:
    with pytest.raises(DockerfileError, match="should not be blank"):
        plan("ARG B=\nFROM $B\n")


def test_instruction_before_from() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: no build stage"):
        plan("ARG A\nRUN x\nFROM y\n")
    with pytest.raises(DockerfileError, match="no build stage"):
        plan("# only a comment\nRUN x\n")


def test_empty_dockerfile() -> None:
    with pytest.raises(DockerfileError, match="no instructions"):
        plan("# nothing\n\n")


def test_copy_from_stage_name_index_and_image() -> None:
    p = plan("FROM x AS build\nFROM x AS Other\nFROM scratch\nCOPY --from=build /a /a\n"
             "COPY --from=1 /b /b\nCOPY --from=OTHER /c /c\nCOPY --from=nginx:1 /d /d\n")
    copies = steps(p)
    assert [c.from_stage for c in copies] == [0, 1, 1, None]
    assert p.stages[2].deps == {0, 1}


def test_copy_from_expanded() -> None:
    p = plan("FROM x AS b1\nFROM x\nARG S=b1\nCOPY --from=$S /a /a\n")
    assert steps(p)[-1].from_stage == 0


def test_copy_from_future_index_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: COPY --from=1: refers to "
                       "the current or a later"):
        plan("FROM x\nCOPY --from=1 /a /a\nFROM y\n")


def test_copy_from_self_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="cannot copy from itself"):
        plan("FROM x AS a\nCOPY --from=a /a /a\n")


def test_copy_from_invalid_reference() -> None:
    with pytest.raises(DockerfileError, match=r"Dockerfile:3: COPY --from=Buidl: no such "
                       r"stage.*did you mean build"):
        plan("FROM x AS build\nFROM y\nCOPY --from=Buidl /a /a\n")


def test_cycle_in_copy_from_is_detected() -> None:
    text = ("FROM x AS a\nCOPY --from=c /1 /1\nFROM x AS b\nCOPY --from=a /2 /2\n"
            "FROM x AS c\nCOPY --from=b /3 /3\n")
    with pytest.raises(DockerfileError, match="circular dependency detected on stage"):
        plan(text)


def test_duplicate_stage_name() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: duplicate stage name 'a'"):
        plan("FROM x AS a\nFROM y AS A\n")


def test_target_selects_needed_stages_only() -> None:
    text = ("FROM x AS deps\nFROM x AS tool\nFROM deps AS build\nCOPY --from=tool / /\n"
            "FROM x AS unrelated\nFROM build AS final\n")
    p = plan(text, target="build")
    assert p.target == 2 and p.needed == (0, 1, 2)
    assert p.levels() == ((0, 1), (2,))
    full = plan(text)
    assert full.needed == (0, 1, 2, 4)
    assert full.levels() == ((0, 1), (2,), (4,))


def test_unknown_target() -> None:
    with pytest.raises(DockerfileError, match="target stage 'buidl' could not be found "
                       "\\(did you mean build\\?\\)"):
        plan("FROM x AS build\n", target="buidl")


def test_expose_expanded_and_split() -> None:
    p = plan("FROM x\nARG P=\"80 443\"\nEXPOSE $P 53/udp\n")
    assert steps(p)[-1].ports == ("80", "443", "53/udp")


def test_expose_bad_port_after_expansion() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:3: invalid proto"):
        plan("FROM x\nARG P=80/xyz\nEXPOSE $P\n")


def test_volume_user_stopsignal_workdir_expanded() -> None:
    p = plan("FROM x\nENV D=/data U=app S=SIGTERM\nVOLUME $D ${D}2\nUSER $U:$U\n"
             "STOPSIGNAL $S\nWORKDIR $D\n")
    v, u, s, w = steps(p)[1:]
    assert (v.paths, u.user, s.signal, w.path) == (("/data", "/data2"), "app:app",
                                                   "SIGTERM", "/data")


def test_copy_add_expanded() -> None:
    p = plan("FROM x\nARG SRC=a U=1\nCOPY --chown=$U:$U $SRC \"${SRC}b\" /d/$SRC/\n"
             "ADD --chmod=$U $SRC /\n")
    c, a = steps(p)[1:]
    assert (c.sources, c.dest, c.chown) == (("a", "ab"), "/d/a/", "1:1")
    assert a.chmod == "1"


def test_not_expanded_instructions() -> None:
    p = plan("FROM x\nENV A=1\nRUN echo $A\nCMD echo $A\nENTRYPOINT [\"$A\"]\n"
             "HEALTHCHECK CMD $A\nONBUILD RUN $A\nSHELL [\"$A\"]\n")
    r, c, e, h, o, s = steps(p)[1:]
    assert r.command.args == ("echo $A",) and c.command.args == ("echo $A",)
    assert e.command.args == ("$A",) and h.test == ("CMD-SHELL", "$A")
    assert o.expression == "RUN $A" and s.args == ("$A",)


def test_substitution_error_has_line() -> None:
    with pytest.raises(DockerfileError, match=r"Dockerfile:3: .*matching double-quote"):
        plan("FROM x\nENV A=1\nWORKDIR \"/$A\n")


def test_required_variable_error() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: V: must be set"):
        plan("FROM x\nUSER ${V:?must be set}\n")


def test_escape_backtick_in_expansion() -> None:
    p = plan("# escape=`\nFROM x\nENV A=1\nWORKDIR c:\\dir\\`$A\n")
    assert steps(p)[-1].path == "c:\\dir\\$A"


def test_plan_stage_lookup() -> None:
    p = plan("FROM x AS One\nFROM y\n")
    assert p.stage("one").index == 0 and p.stage(1).base == "y"
    with pytest.raises(KeyError):
        p.stage("nope")


def test_copy_heredoc_body_expanded_keeping_quotes() -> None:
    p = plan("FROM x\nARG V=1\nCOPY <<EOF <<'RAW' /d/\n\"$V\" '${V}' \\$V\nEOF\n$V\nRAW\n")
    doc, raw = steps(p)[-1].heredocs
    assert doc.content == "\"1\" '1' $V\n"
    assert raw.content == "$V\n"


def test_run_heredoc_body_left_for_the_shell() -> None:
    p = plan("FROM x\nARG V=1\nRUN <<EOF\necho $V\nEOF\n")
    assert steps(p)[-1].heredocs[0].content == "echo $V\n"


def test_plan_warnings() -> None:
    p = plan("FROM x\nRUN a \\\n\n  b\nMAINTAINER me\nENV A 1\nLABEL k v\nENV B=2\n",
             build_args={"NOPE": "1"})
    assert p.warnings == (
        "Dockerfile:2: empty continuation line (deprecated; a future docker will treat "
        "it as the end of the instruction)",
        "Dockerfile:5: MAINTAINER is deprecated, use LABEL maintainer=...",
        "Dockerfile:6: legacy 'ENV key value' form; prefer 'ENV key=value'",
        "Dockerfile:7: legacy 'LABEL key value' form; prefer 'LABEL key=value'",
        "one or more build-args ['NOPE'] were not consumed",
    )


def test_base_image_onbuild_triggers_run_first() -> None:
    p = plan("FROM parent\nLABEL t=$T\n", base_onbuild=lambda ref: ["ENV T=1", "LABEL a=b"])
    s = p.stages[0]
    assert [st.trigger for st in s.steps] == [True, True, False]
    assert steps(p)[-1].pairs == (("t", "1"),)
    assert steps(p)[0].loc.line == 1


def test_stage_onbuild_triggers_run_in_child_stage() -> None:
    p = plan("FROM x AS a\nONBUILD ENV T=from-a\nFROM a\nUSER $T\n")
    assert p.stages[0].onbuild == ("ENV T=from-a",)
    assert [type(st.instruction).__name__ for st in p.stages[1].steps] == ["Env", "User"]
    assert steps(p)[-1].user == "from-a"


def test_bad_base_trigger_points_at_from() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: base image p: FROM isn't "
                       "allowed as an ONBUILD trigger"):
        plan("# c\nFROM p\n", base_onbuild=lambda ref: ["FROM y"])
