"""Image-config effects of metadata instructions (docker's dispatcher rules)."""

from __future__ import annotations

from dockyard.build.config import HealthConfig, ImageConfigState, apply, start_stage
from dockyard.build.stages import parse_dockerfile


def fold(text: str, base: ImageConfigState | None = None) -> ImageConfigState:
    plan = parse_dockerfile(text, build_platform="linux/amd64",
                            base_env=lambda ref: (base or ImageConfigState()).env_dict())
    state = start_stage(base or ImageConfigState())
    for step in plan.stages[-1].steps:
        state = apply(state, step.instruction)
    return state


def test_cmd_entrypoint_shell_and_exec_forms() -> None:
    s = fold('FROM x\nCMD echo hi\nENTRYPOINT ["/bin/tini", "--"]\n')
    assert s.cmd == ("/bin/sh", "-c", "echo hi")
    assert s.entrypoint == ("/bin/tini", "--")


def test_entrypoint_clears_inherited_cmd_only() -> None:
    base = ImageConfigState(cmd=("sh",))
    assert fold("FROM x\nENTRYPOINT [\"e\"]\n", base).cmd is None
    assert fold("FROM x\nCMD [\"c\"]\nENTRYPOINT [\"e\"]\n", base).cmd == ("c",)
    assert fold("FROM x\nLABEL a=b\n", base).cmd == ("sh",)


def test_shell_changes_later_shell_forms() -> None:
    s = fold('FROM x\nSHELL ["/bin/bash", "-c"]\nCMD ls\nHEALTHCHECK CMD true\n')
    assert s.cmd == ("/bin/bash", "-c", "ls") and s.shell == ("/bin/bash", "-c")
    assert s.healthcheck == HealthConfig(("CMD-SHELL", "true"))


def test_env_replaced_in_place() -> None:
    base = ImageConfigState(env=("PATH=/bin", "A=1"))
    s = fold("FROM x\nENV PATH=/usr/bin:$PATH B=2\n", base)
    assert s.env == ("PATH=/usr/bin:/bin", "A=1", "B=2")


def test_default_path_added_when_base_has_none() -> None:
    assert fold("FROM x\nENV A=1\n").env == (
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1")


def test_workdir_relative_joins() -> None:
    s = fold("FROM x\nWORKDIR a\nWORKDIR b/../c\nWORKDIR /abs\nWORKDIR d/\n")
    assert s.working_dir == "/abs/d"


def test_labels_ports_volumes_merge() -> None:
    s = fold("FROM x\nLABEL a=1 b=2\nLABEL a=3\nEXPOSE 80 80/tcp 53/udp\n"
             "EXPOSE 1-2\nVOLUME /v\nVOLUME [\"/v\", \"/w\"]\n")
    assert dict(s.labels) == {"a": "3", "b": "2"}
    assert s.exposed_ports == ("80/tcp", "53/udp", "1/tcp", "2/tcp")
    assert s.volumes == ("/v", "/w")


def test_onbuild_user_stopsignal_maintainer() -> None:
    s = fold("FROM x\nONBUILD RUN a\nONBUILD  COPY . /\nUSER 1:1\nSTOPSIGNAL 9\n"
             "MAINTAINER me\n", ImageConfigState(on_build=("RUN base",)))
    assert s.on_build == ("RUN a", "COPY . /")
    assert (s.user, s.stop_signal, s.author) == ("1:1", "9", "me")


def test_healthcheck_none_and_durations() -> None:
    s = fold("FROM x\nHEALTHCHECK --interval=5s --retries=2 CMD [\"t\"]\n")
    assert s.healthcheck == HealthConfig(("CMD", "t"), interval=5 * 10**9, retries=2)
    assert fold("FROM x\nHEALTHCHECK NONE\n").healthcheck == HealthConfig(("NONE",))
