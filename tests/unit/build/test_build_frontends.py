"""Small pure pieces of the executor, API, CLI and exporters."""

from __future__ import annotations

import io
import tarfile

import pytest
from multidict import MultiDict

from dockyard.build import instructions as ins
from dockyard.build.executor import describe
from dockyard.build.exporters import OutputSpec, parse_output
from dockyard.build.parser import Heredoc
from dockyard.build.progress import PlainProgress, make_progress
from dockyard.build.state import config_json
from dockyard.build.steps import run_argv, run_env
from dockyard.errors import InvalidArgument


def loc(line: int) -> ins.Location:
    return ins.Location("Dockerfile", line, line, "RUN x")


def test_describe_ignores_location() -> None:
    a = ins.Run(loc(1), ins.Command(("echo hi",), True))
    b = ins.Run(loc(9), ins.Command(("echo hi",), True))
    assert describe(a) == describe(b)
    assert describe(a) != describe(ins.Run(loc(1), ins.Command(("echo ho",), True)))


def test_run_argv_forms_and_heredoc() -> None:
    shell = ("/bin/sh", "-c")
    assert run_argv(ins.Run(loc(1), ins.Command(("a b",), True)), shell) == \
        ["/bin/sh", "-c", "a b"]
    assert run_argv(ins.Run(loc(1), ins.Command(("ls", "-l"), False)), shell) == ["ls", "-l"]
    doc = ins.Run(loc(1), ins.Command(("cat <<EOF",), True),
                  heredocs=(Heredoc("EOF", "x\ny\n"),))
    assert run_argv(doc, shell) == ["/bin/sh", "-c", "cat <<EOF\nx\ny\nEOF"]


def test_run_env_prefers_env_over_args() -> None:
    from dockyard.build.config import ImageConfigState
    from dockyard.build.stages import Step
    from dockyard.build.state import State

    state = State("k", ImageConfigState(env=("A=env", "PATH=/bin")))
    step = Step(ins.Run(loc(1), ins.Command(("x",), True)), (("A", "arg"), ("B", "b")))
    assert run_env(state, step) == ["A=env", "PATH=/bin", "B=b"]


def test_parse_output() -> None:
    assert parse_output("out") == OutputSpec("local", "out")
    assert parse_output("type=tar,dest=-") == OutputSpec("tar", "-")
    assert parse_output("type=oci,dest=x.tar") == OutputSpec("oci", "x.tar")
    with pytest.raises(InvalidArgument, match="unsupported --output type"):
        parse_output("type=registry,dest=x")
    with pytest.raises(InvalidArgument, match="needs dest"):
        parse_output("type=docker")
    with pytest.raises(InvalidArgument, match="unknown --output"):
        parse_output("type=local,dest=x,bogus=1")


def test_api_build_options() -> None:
    from dockyard.api.build import build_options

    q = MultiDict([("t", "a:1"), ("t", "b"), ("buildargs", '{"X": "1", "Y": null}'),
                   ("labels", '{"l": "v"}'), ("nocache", "1"), ("q", "1"),
                   ("target", "s"), ("dockerfile", "sub/Df"), ("networkmode", "none")])
    o = build_options(q)
    assert o.tags == ("a:1", "b") and o.build_args == {"X": "1"}
    assert o.labels == {"l": "v"} and o.no_cache and o.quiet and o.target == "s"
    assert o.dockerfile == "sub/Df" and o.network == "none"
    with pytest.raises(InvalidArgument, match="buildargs"):
        build_options(MultiDict([("buildargs", "[1]")]))
    with pytest.raises(InvalidArgument, match="invalid tag"):
        build_options(MultiDict([("t", "UPPER:case")]))
    with pytest.raises(InvalidArgument, match="remote"):
        build_options(MultiDict([("remote", "https://x/y.git")]))


def test_padded_tar_completes_an_unterminated_stream() -> None:
    from dockyard.api.build import PaddedTar

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("a")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    cut = buf.getvalue()[:512 + 3]          # header + data, no padding, no end blocks
    data = io.BufferedReader(PaddedTar(io.BytesIO(cut))).read()
    assert len(data) % 512 == 0 and data.endswith(b"\0" * 1024)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("a").read() == b"abc"  # type: ignore[union-attr]
    gz = b"\x1f\x8b" + b"rest"
    assert io.BufferedReader(PaddedTar(io.BytesIO(gz))).read() == gz


def test_cli_pairs_and_secrets(tmp_path, monkeypatch) -> None:
    from dockyard.cli.commands.build import parse_pairs, parse_secrets

    monkeypatch.setenv("FROM_ENV", "e")
    monkeypatch.delenv("ABSENT", raising=False)
    assert parse_pairs(["A=1", "FROM_ENV", "ABSENT", "B=x=y"], "--build-arg",
                       from_env=True) == {"A": "1", "FROM_ENV": "e", "B": "x=y"}
    with pytest.raises(InvalidArgument):
        parse_pairs(["novalue"], "--label")
    f = tmp_path / "s"
    f.write_text("x")
    assert parse_secrets([f"id=tok,src={f}"]) == {"tok": str(f)}
    with pytest.raises(InvalidArgument, match="id= is required"):
        parse_secrets([f"src={f}"])
    with pytest.raises(InvalidArgument, match="is not a file"):
        parse_secrets(["id=x,src=/nonexistent/file"])


def test_config_json_uses_docker_keys() -> None:
    from dockyard.build.config import HealthConfig, ImageConfigState

    c = config_json(ImageConfigState(env=("A=1",), cmd=("sh",), exposed_ports=("80/tcp",),
                                     healthcheck=HealthConfig(("CMD", "x"), interval=5),
                                     labels=(("k", "v"),)))
    assert c == {"Env": ["A=1"], "Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}},
                 "Healthcheck": {"Test": ["CMD", "x"], "Interval": 5}, "Labels": {"k": "v"}}


def test_plain_progress_prints_streams() -> None:
    out = io.StringIO()
    p = PlainProgress(out)
    p({"stream": "Step 1/1 : FROM x\n"})
    p({"aux": {"ID": "sha256:x"}})
    assert out.getvalue() == "Step 1/1 : FROM x\n"
    assert make_progress("plain").__class__ is PlainProgress


def test_tty_progress_lists_steps_and_output() -> None:
    from rich.console import Console

    from dockyard.build.progress import TtyProgress

    out = io.StringIO()
    p = TtyProgress(Console(file=out, force_terminal=True, width=100))
    for text in ("Step 1/3 : FROM busybox\n", " ---> abc\n", "Step 2/3 : RUN make\n",
                 " ---> Running in x\n", "compiling...\n", "Removing intermediate container x\n",
                 "Step 3/3 : ENV A=1\n", " ---> Using cache\n",
                 "Successfully built abc\n"):
        p({"stream": text})
    p.close()
    shown = out.getvalue()
    assert "Step 2/3 : RUN make" in shown and "CACHED Step 3/3" in shown
    assert "Successfully built abc" in shown
