"""The parser's predicted image config against docker's legacy builder.

Each Dockerfile of the corpus is metadata only (no RUN, nothing copied), is built
by the private dockerd (``DOCKER_BUILDKIT=0``) FROM the imported busybox image,
and the fields docker records are compared with what ``parse_dockerfile`` plus
``config.apply`` predict: Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts,
Volumes, Labels, StopSignal, Healthcheck, OnBuild and Shell.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.build.config import HealthConfig, ImageConfigState, apply, start_stage
from dockyard.build.stages import parse_dockerfile

CORPUS: list[tuple[str, str, dict[str, str]]] = [
    ("env-forms", 'ENV A=1 B="two words" C=\'$A\'\nENV D $A-${B}\nENV E=${NOPE:-dflt} '
     'F=${A:+alt} G=\\$A\n', {}),
    ("env-overrides-arg", "ARG V=arg\nENV V=env\nARG V\nLABEL v=$V\nENV W=$V\n",
     {"V": "cli"}),
    ("args-scoping", "ARG X=1\nLABEL before=[$X]\nARG Y=${X}2\nLABEL y=$Y\n",
     {"X": "9"}),
    ("cmd-shell", "CMD echo \"hi there\" && ls\n", {}),
    ("cmd-exec", 'CMD ["echo", "a \\"quoted\\" word"]\n', {}),
    ("entrypoint-clears-cmd", 'ENTRYPOINT ["/bin/echo", "x"]\n', {}),
    ("entrypoint-keeps-own-cmd", 'CMD ["c"]\nENTRYPOINT echo e\n', {}),
    ("invalid-json-is-shell", "CMD [not json]\n", {}),
    ("shell-then-cmd", 'SHELL ["/bin/sh", "-xc"]\nCMD ls\nENTRYPOINT ["x"]\n', {}),
    ("workdir", "ENV D=/srv\nWORKDIR $D\nWORKDIR app\nWORKDIR ../other/./x/\n", {}),
    ("user", "ARG U=1000\nUSER $U:${U}\n", {}),
    ("expose", "EXPOSE 80 53/udp 8000-8002 9/sctp\nARG P=443\nEXPOSE $P/TCP\n", {}),
    ("volumes", 'VOLUME /data /logs\nVOLUME ["/json vol", "/data"]\n', {}),
    ("labels", 'LABEL a=1 "b c"="d e" f=\nLABEL old style value\nLABEL a=2\n'
     "LABEL multi=\"x\\\n y\"\n", {}),
    ("stopsignal", "STOPSIGNAL SIGKILL\n", {}),
    ("healthcheck", "HEALTHCHECK --interval=1m30s --timeout=3s --start-period=1.5s "
     "--retries=4 CMD wget -q localhost || exit 1\n", {}),
    ("healthcheck-exec", 'HEALTHCHECK CMD ["true"]\n', {}),
    ("healthcheck-none", "HEALTHCHECK NONE\n", {}),
    ("onbuild", "ONBUILD RUN echo $HOME\nONBUILD   COPY . /app\n", {}),
    ("continuations", "LABEL a=1 \\\n\n   b=2 \\\n# comment\n  c=3\nENV X=1 \\\n Y=2\n",
     {}),
    ("escape-backtick", "# escape=`\nFROM {base}\nLABEL path=c:\\dir `\n  other=`$x\n"
     "WORKDIR /a\\b\n", {}),
    ("global-args-in-from", "ARG NAME=busybox\nARG TAG=dytest\nFROM $NAME:${TAG}\n"
     "ARG TAG\nLABEL tag=$TAG name=[$NAME]\n", {}),
    # ${v-x} and ${v+x} (no colon) are BuildKit's; this legacy builder refuses them
    ("modifiers", "ENV E=\nENV F=f\nLABEL b=${E:-y} d=${E:+w} g=${F:-n} h=${F:+set} "
     "i=${U:-u} j=${U:+v}\n", {}),
    ("quotes-and-escapes", "ENV A=a\\ b B='single $A' C=\"dbl \\\"q\\\" $A\" "
     "D=x\\$A\nLABEL l1='$A' l2=\"$A\" l3=\\\"lit\\\"\n", {}),
    ("expanded-metadata", "ENV V=/vol S=SIGUSR1 U=nobody P=\"81 82/udp\"\n"
     "VOLUME $V ${V}2\nSTOPSIGNAL $S\nUSER $U\nEXPOSE $P\nWORKDIR rel\n", {}),
    ("onbuild-continued", "ONBUILD RUN a \\\n  b\nONBUILD ENV X=$Y\n", {}),
    ("json-escapes", 'ENTRYPOINT ["sh", "-c", "echo \\\\ \\u0041 \\"$HOME\\""]\n'
     'CMD ["/bin/x", "a b"]\n', {}),
    ("maintainer-stage", "FROM {base} AS first\nENV FIRST=1\nLABEL s=first\n"
     "FROM first\nENV SECOND=$FIRST\n", {}),
]


def _base_state(info: dict) -> ImageConfigState:
    c = info["Config"]
    hc = c.get("Healthcheck")
    return ImageConfigState(
        env=tuple(c.get("Env") or ()),
        cmd=tuple(c["Cmd"]) if c.get("Cmd") else None,
        entrypoint=tuple(c["Entrypoint"]) if c.get("Entrypoint") else None,
        working_dir=c.get("WorkingDir") or "", user=c.get("User") or "",
        exposed_ports=tuple(c.get("ExposedPorts") or ()),
        volumes=tuple(c.get("Volumes") or ()),
        labels=tuple((c.get("Labels") or {}).items()),
        stop_signal=c.get("StopSignal") or "",
        healthcheck=HealthConfig(tuple(hc["Test"]), hc.get("Interval", 0),
                                 hc.get("Timeout", 0), hc.get("StartPeriod", 0),
                                 hc.get("StartInterval", 0), hc.get("Retries", 0))
        if hc else None,
        on_build=tuple(c.get("OnBuild") or ()),
        shell=tuple(c["Shell"]) if c.get("Shell") else None)


def _predicted(state: ImageConfigState) -> dict:
    hc = None
    if state.healthcheck is not None:
        h = state.healthcheck
        hc = {"Test": list(h.test)}
        for key, value in (("Interval", h.interval), ("Timeout", h.timeout),
                           ("StartPeriod", h.start_period), ("Retries", h.retries)):
            if value:
                hc[key] = value
    return {
        "Env": list(state.env) or None,
        "Cmd": list(state.cmd) if state.cmd is not None else None,
        "Entrypoint": list(state.entrypoint) if state.entrypoint is not None else None,
        "WorkingDir": state.working_dir,
        "User": state.user,
        "ExposedPorts": sorted(state.exposed_ports) or None,
        "Volumes": sorted(state.volumes) or None,
        "Labels": dict(state.labels) or None,
        "StopSignal": state.stop_signal or None,
        "Healthcheck": hc,
        "OnBuild": list(state.on_build) or None,
        "Shell": list(state.shell) if state.shell else None,
    }


def _actual(c: dict) -> dict:
    return {
        "Env": c.get("Env"),
        "Cmd": c.get("Cmd"),
        "Entrypoint": c.get("Entrypoint"),
        "WorkingDir": c.get("WorkingDir") or "",
        "User": c.get("User") or "",
        "ExposedPorts": sorted(c["ExposedPorts"]) if c.get("ExposedPorts") else None,
        "Volumes": sorted(c["Volumes"]) if c.get("Volumes") else None,
        "Labels": c.get("Labels") or None,
        "StopSignal": c.get("StopSignal") or None,
        "Healthcheck": c.get("Healthcheck"),
        "OnBuild": c.get("OnBuild") or None,
        "Shell": c.get("Shell"),
    }


@pytest.mark.parametrize(("name", "body", "build_args"), CORPUS,
                         ids=[c[0] for c in CORPUS])
def test_config_matches_docker(dockerd, docker_busybox_image: str, tmp_path: Path,
                               name: str, body: str, build_args: dict[str, str]) -> None:
    base = docker_busybox_image
    assert base == "busybox:dytest"   # the global-args case spells it with args
    if body.startswith("ARG NAME"):
        text = body
    else:
        text = body.replace("{base}", base) if "{base}" in body else f"FROM {base}\n{body}"
    base_info = json.loads(dockerd.cli("image", "inspect", base).stdout)[0]
    base_env = dict(e.split("=", 1) for e in base_info["Config"].get("Env") or ())
    plan = parse_dockerfile(text, build_args=build_args, base_env=lambda ref: base_env)
    state = start_stage(_base_state(base_info))
    for index in plan.needed:
        stage = plan.stages[index]
        if stage.base_stage is None:
            state = start_stage(_base_state(base_info))
        for step in stage.steps:
            state = apply(state, step.instruction)

    (tmp_path / "Dockerfile").write_text(text)
    tag = f"dytest-parity-{name}:1"
    args = [a for k, v in build_args.items() for a in ("--build-arg", f"{k}={v}")]
    dockerd.cli("build", "-q", "-t", tag, *args, str(tmp_path))
    try:
        info = json.loads(dockerd.cli("image", "inspect", tag).stdout)[0]
    finally:
        dockerd.cli("rmi", "-f", tag, check=False)
    assert _predicted(state) == _actual(info["Config"]), text


def _predict(dockerd, text: str, base: str) -> dict:
    info = json.loads(dockerd.cli("image", "inspect", base).stdout)[0]
    env = dict(e.split("=", 1) for e in info["Config"].get("Env") or ())
    plan = parse_dockerfile(text, base_env=lambda ref: env,
                            base_onbuild=lambda ref: info["Config"].get("OnBuild") or ())
    states: dict[int, ImageConfigState] = {}
    for index in plan.needed:
        stage = plan.stages[index]
        state = start_stage(states[stage.base_stage] if stage.base_stage is not None
                            else _base_state(info))
        for step in stage.steps:
            state = apply(state, step.instruction)
        states[index] = state
    return _predicted(states[plan.target])


def _docker_config(dockerd, ctx: Path, text: str, tag: str) -> dict:
    (ctx / "Dockerfile").write_text(text)
    dockerd.cli("build", "-q", "-t", tag, str(ctx))
    return json.loads(dockerd.cli("image", "inspect", tag).stdout)[0]["Config"]


def test_onbuild_triggers_run_in_children(dockerd, docker_busybox_image: str,
                                          tmp_path: Path) -> None:
    parent = "dytest-parity-onbuild-parent:1"
    child = "dytest-parity-onbuild-child:1"
    try:
        _docker_config(dockerd, tmp_path, (
            f"FROM {docker_busybox_image}\nLABEL p=1\nEXPOSE 80\n"
            "ONBUILD ENV T=trig\nONBUILD LABEL from=$T\nONBUILD WORKDIR /$T\n"), parent)
        # stage 0: the parent's triggers run; the last stage inherits base2's own
        # ONBUILD (run there) on top of base2, which ran the parent's triggers
        text = (f"FROM {parent}\nLABEL mine=$T\nONBUILD USER $T\n"
                f"FROM {parent} AS base2\nONBUILD ENV G=g\nFROM base2\nLABEL g=$G\n")
        actual = _actual(_docker_config(dockerd, tmp_path, text, child))
        assert _predict(dockerd, text, parent) == actual, text
    finally:
        dockerd.cli("rmi", "-f", child, parent, check=False)


BAD = [
    "FORM x",
    "ONBUILD ONBUILD RUN x",
    "ONBUILD FROM x",
    "SHELL /bin/sh -c",
    "HEALTHCHECK --interval=10 CMD true",
    "HEALTHCHECK --retries=-1 CMD true",
    "ENV A",
    "LABEL k",
    "EXPOSE 80/icmp",
    "COPY onlyone",
    "RUN --unknown=1 true",
    "WORKDIR",
    "ENV A=1 B",
]


@pytest.mark.parametrize("line", BAD)
def test_both_refuse_bad_dockerfiles(dockerd, docker_busybox_image: str, tmp_path: Path,
                                     line: str) -> None:
    from dockyard.build.errors import DockerfileError

    text = f"FROM {docker_busybox_image}\n{line}\n"
    with pytest.raises(DockerfileError) as e:
        parse_dockerfile(text)
    assert e.value.line == 2
    (tmp_path / "Dockerfile").write_text(text)
    tag = "dytest-parity-bad:1"
    result = dockerd.cli("build", "-q", "-t", tag, str(tmp_path), check=False)
    dockerd.cli("rmi", "-f", tag, check=False)
    assert result.returncode != 0, f"docker accepted {line!r}"
