"""Every instruction's forms and flags, and their bad inputs (raw, before expansion)."""

from __future__ import annotations

import pytest

from dockyard.build import instructions as ins
from dockyard.build.convert import expose_keys, parse_duration, to_instruction
from dockyard.build.errors import DockerfileError
from dockyard.build.parser import lex


def one(text: str, escape: str = "\\") -> ins.Instruction:
    return to_instruction(lex(text).instructions[0], "Dockerfile", escape)


def bad(text: str, match: str) -> DockerfileError:
    with pytest.raises(DockerfileError, match=match) as e:
        for raw in lex(text).instructions:
            to_instruction(raw, "Dockerfile")
    return e.value


# FROM
@pytest.mark.parametrize(("text", "image", "name", "plat"), [
    ("FROM busybox", "busybox", None, None),
    ("FROM busybox AS Build", "busybox", "build", None),
    ("FROM busybox as b-1.x_y", "busybox", "b-1.x_y", None),
    ("FROM --platform=linux/arm64 alpine:3 AS a", "alpine:3", "a", "linux/arm64"),
    ("FROM scratch", "scratch", None, None),
])
def test_from_forms(text: str, image: str, name: str | None, plat: str | None) -> None:
    f = one(text)
    assert isinstance(f, ins.From)
    assert (f.image, f.name, f.platform) == (image, name, plat)


@pytest.mark.parametrize(("text", "match"), [
    ("FROM", "one or three"),
    ("FROM a b", "one or three"),
    ("FROM a IS b", "must be AS"),
    ("FROM a AS 1x", "invalid name for build stage"),
    ("FROM a AS b$c", "invalid name for build stage"),
    ("FROM --plat=x a", "unknown flag: --plat"),
])
def test_from_errors(text: str, match: str) -> None:
    bad(text, match)


# RUN
def test_run_shell_form() -> None:
    r = one("RUN echo $HOME && ls")
    assert isinstance(r, ins.Run)
    assert r.command == ins.Command(("echo $HOME && ls",), shell=True)
    assert r.command.argv(("/bin/sh", "-c")) == ("/bin/sh", "-c", "echo $HOME && ls")


def test_run_exec_form_with_escaped_quotes() -> None:
    r = one('RUN ["sh", "-c", "echo \\"hi\\""]')
    assert r.command == ins.Command(("sh", "-c", 'echo "hi"'), shell=False)


@pytest.mark.parametrize("text", ["RUN [not json]", "RUN [\"a\", 1]", "RUN ['a']",
                                  "RUN [\"a\"] trailing"])
def test_run_invalid_json_falls_back_to_shell(text: str) -> None:
    r = one(text)
    assert r.command.shell and r.command.args == (text[4:],)


def test_run_mounts() -> None:
    r = one("RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,"
            "uid=1 --mount=type=bind,source=x,target=/x,rw --mount=type=tmpfs,dst=/t,size=1m "
            "--mount=type=secret,id=tok --mount=type=ssh --mount=target=/b,from=st "
            "--network=none --security=insecure make")
    assert isinstance(r, ins.Run)
    cache, bind, tmpfs, secret, ssh, dflt = r.mounts
    assert (cache.type, cache.target, cache.id, cache.sharing, cache.mode, cache.uid,
            cache.readonly) == ("cache", "/root/.cache", "pip", "locked", 0o700, 1, False)
    assert (bind.type, bind.source, bind.readonly) == ("bind", "x", False)
    assert (tmpfs.target, tmpfs.size) == ("/t", 1024 * 1024)
    assert secret.target == "/run/secrets/tok"
    assert ssh.target == "/run/buildkit/ssh_agent.0"
    assert (dflt.type, dflt.readonly, dflt.from_) == ("bind", True, "st")
    assert (r.network, r.security) == ("none", "insecure")


@pytest.mark.parametrize(("text", "match"), [
    ("RUN --mount=type=nfs,target=/x a", "unsupported mount type"),
    ("RUN --mount=type=cache a", "target must be specified"),
    ("RUN --mount=type=cache,target=/x,sharing=odd a", "sharing"),
    ("RUN --mount=type=bind,target=/x,size=1 a", "unexpected key 'size'"),
    ("RUN --mount=type=cache,target=/x,mode=9z a", "invalid mode"),
    ("RUN --mount=type=tmpfs,target=/x,size=lots a", "invalid size"),
    ("RUN --mount a", "missing a value on flag: --mount"),
    ("RUN --network=bridge a", "unsupported network mode"),
    ("RUN --security=x a", "unsupported security mode"),
    ("RUN --network=none --network=host a", "duplicate flag"),
    ("RUN --mnt=type=cache a", "unknown flag: --mnt.*did you mean --mount"),
    ("RUN", "RUN requires at least one argument"),
])
def test_run_errors(text: str, match: str) -> None:
    bad(text, match)


def test_run_heredoc_kept() -> None:
    r = one("RUN <<EOF\nset -e\nEOF\n")
    assert r.heredocs[0].content == "set -e\n"
    assert r.command == ins.Command(("<<EOF",), shell=True)


# CMD / ENTRYPOINT
@pytest.mark.parametrize("kw", ["CMD", "ENTRYPOINT"])
def test_cmd_entrypoint_forms(kw: str) -> None:
    assert one(f'{kw} ["a", "b c"]').command == ins.Command(("a", "b c"), False)
    assert one(f"{kw} a  b").command == ins.Command(("a  b",), True)
    assert one(f"{kw} []").command == ins.Command((), False)
    bad(kw, "requires at least one argument")


# LABEL / ENV
@pytest.mark.parametrize(("text", "pairs"), [
    ("LABEL a=b", (("a", "b"),)),
    ('LABEL "com.x"="v 1" b=2', (('"com.x"', '"v 1"'), ("b", "2"))),
    ("LABEL old form with spaces", (("old", "form with spaces"),)),
    ("LABEL e=", (("e", ""),)),
    ("LABEL a=b\\ c", (("a", "b\\ c"),)),
])
def test_label_forms_raw(text: str, pairs: tuple[tuple[str, str], ...]) -> None:
    assert one(text).pairs == pairs


@pytest.mark.parametrize(("text", "pairs"), [
    ("ENV A=1", (("A", "1"),)),
    ("ENV A 1 2  3", (("A", "1 2  3"),)),
    ('ENV A="x y" B=$A', (("A", '"x y"'), ("B", "$A"))),
])
def test_env_forms_raw(text: str, pairs: tuple[tuple[str, str], ...]) -> None:
    assert one(text).pairs == pairs


@pytest.mark.parametrize(("text", "match"), [
    ("ENV", "ENV requires at least one argument"),
    ("ENV A", "ENV must have two arguments"),
    ("ENV A=1 B", "can't find = in 'B'"),
    ("ENV =1", "ENV names can not be blank"),
    ("LABEL", "LABEL requires at least one argument"),
    ("LABEL k", "LABEL must have two arguments"),
])
def test_env_label_errors(text: str, match: str) -> None:
    bad(text, match)


# ARG
def test_arg_forms() -> None:
    a = one("ARG A B=2 C=")
    assert a.args == (ins.ArgDef("A"), ins.ArgDef("B", "2"), ins.ArgDef("C", ""))
    bad("ARG", "ARG requires at least one argument")
    bad("ARG =x", "ARG names can not be blank")


# EXPOSE
@pytest.mark.parametrize(("ports", "keys"), [
    (("80",), ("80/tcp",)),
    (("53/udp", "53/UDP"), ("53/udp", "53/udp")),
    (("8000-8002",), ("8000/tcp", "8001/tcp", "8002/tcp")),
    (("9/sctp",), ("9/sctp",)),
])
def test_expose_keys(ports: tuple[str, ...], keys: tuple[str, ...]) -> None:
    assert expose_keys(ports) == keys


@pytest.mark.parametrize("port", ["80/icmp", "http", "5-3", "70000"])
def test_expose_bad_ports(port: str) -> None:
    with pytest.raises(ValueError):
        expose_keys((port,))


def test_expose_needs_argument() -> None:
    bad("EXPOSE", "EXPOSE requires at least one argument")


# ADD / COPY
def test_copy_flags() -> None:
    c = one("COPY --from=build --chown=app:app --chmod=0755 --link --parents "
            "--exclude=*.md --exclude=tmp a b /dst/")
    assert isinstance(c, ins.Copy)
    assert (c.sources, c.dest, c.from_, c.chown, c.chmod, c.link, c.parents, c.exclude) == (
        ("a", "b"), "/dst/", "build", "app:app", "0755", True, True, ("*.md", "tmp"))


def test_copy_json_form_with_spaces() -> None:
    c = one('COPY ["a file", "dst dir/"]')
    assert (c.sources, c.dest) == (("a file",), "dst dir/")


def test_copy_heredoc_needs_only_dest() -> None:
    c = one("COPY <<EOF /etc/motd\nhi\nEOF\n")
    assert c.sources == ("<<EOF",) and c.heredocs[0].content == "hi\n"


def test_add_flags() -> None:
    a = one("ADD --checksum=sha256:abc --keep-git-dir=true --link=false --chown=1 "
            "--chmod=644 https://x/y.tgz /")
    assert isinstance(a, ins.Add)
    assert (a.checksum, a.keep_git_dir, a.link, a.chown, a.chmod) == (
        "sha256:abc", True, False, "1", "644")


@pytest.mark.parametrize(("text", "match"), [
    ("COPY a", "COPY requires at least two arguments, but got 1"),
    ("ADD a", "ADD requires at least two arguments"),
    ("COPY --checksum=x a b", "unknown flag: --checksum"),
    ("ADD --from=x a b", "unknown flag: --from"),
    ("COPY --link=maybe a b", "expecting boolean value"),
    ("COPY --from a b", "missing a value on flag: --from"),
])
def test_copy_add_errors(text: str, match: str) -> None:
    bad(text, match)


# VOLUME / USER / WORKDIR / STOPSIGNAL / MAINTAINER
def test_volume_forms() -> None:
    assert one("VOLUME /a /b").paths == ("/a", "/b")
    assert one('VOLUME ["/a b", "/c"]').paths == ("/a b", "/c")
    bad("VOLUME", "VOLUME requires at least one argument")
    bad('VOLUME [""]', "can not be an empty string")


@pytest.mark.parametrize(("text", "cls", "attr", "value"), [
    ("USER app:grp", ins.User, "user", "app:grp"),
    ("WORKDIR /srv/$X", ins.Workdir, "path", "/srv/$X"),
    ("STOPSIGNAL SIGKILL", ins.Stopsignal, "signal", "SIGKILL"),
    ("MAINTAINER Jo Doe <jo@x>", ins.Maintainer, "name", "Jo Doe <jo@x>"),
])
def test_single_value_instructions(text: str, cls: type, attr: str, value: str) -> None:
    i = one(text)
    assert isinstance(i, cls) and getattr(i, attr) == value


def test_whole_rest_is_one_value() -> None:
    assert one("WORKDIR /my dir").path == "/my dir"
    assert one("USER a b").user == "a b"


@pytest.mark.parametrize("text", ["USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"])
def test_single_value_arity(text: str) -> None:
    bad(text, "requires exactly one argument")


# SHELL
def test_shell_json_only() -> None:
    assert one('SHELL ["/bin/bash", "-o", "pipefail", "-c"]').args == (
        "/bin/bash", "-o", "pipefail", "-c")
    e = bad("FROM x\nSHELL /bin/bash -c", "Dockerfile:2: SHELL requires the arguments "
            "to be in JSON form")
    assert e.column == 7
    bad("SHELL []", "SHELL requires at least one argument")


# HEALTHCHECK
def test_healthcheck_cmd_forms() -> None:
    h = one("HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s "
            "--start-interval=250ms --retries=3 CMD curl -f http://x/ || exit 1")
    assert isinstance(h, ins.Healthcheck)
    assert h.test == ("CMD-SHELL", "curl -f http://x/ || exit 1")
    assert (h.interval, h.timeout, h.start_period, h.start_interval, h.retries) == (
        30 * 10**9, 90 * 10**9, 1_500_000_000, 250_000_000, 3)
    assert one('HEALTHCHECK CMD ["true"]').test == ("CMD", "true")
    assert one("HEALTHCHECK none").test == ("NONE",)
    assert one("HEALTHCHECK --interval=0s CMD x").interval == 0


@pytest.mark.parametrize(("text", "match"), [
    ("HEALTHCHECK NONE x", "NONE takes no arguments"),
    ("HEALTHCHECK --retries=2 NONE", "NONE takes no arguments"),
    ("HEALTHCHECK RUN x", "unknown type 'RUN' in HEALTHCHECK"),
    ("HEALTHCHECK CMD", "missing command"),
    ("HEALTHCHECK --interval=10 CMD x", "invalid duration"),
    ("HEALTHCHECK --interval=-1s CMD x", "cannot be negative"),
    ("HEALTHCHECK --timeout=10us CMD x", "cannot be less than 1ms"),
    ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative"),
    ("HEALTHCHECK --retries=x CMD x", "invalid number"),
    ("HEALTHCHECK --every=1s CMD x", "unknown flag: --every"),
])
def test_healthcheck_errors(text: str, match: str) -> None:
    bad(text, match)


@pytest.mark.parametrize(("text", "ns"), [
    ("1h", 3600 * 10**9), ("1m30s", 90 * 10**9), ("1.5s", 1_500_000_000),
    ("300ms", 300_000_000), ("10us", 10_000), ("10µs", 10_000), ("7ns", 7),
    ("0", 0), ("2h45m", (2 * 3600 + 45 * 60) * 10**9), (".5s", 500_000_000),
])
def test_go_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "10", "1x", "s", "1.s.", "1 s"])
def test_go_duration_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# ONBUILD
def test_onbuild_wraps_trigger() -> None:
    o = one("onbuild  RUN echo $HOME")
    assert isinstance(o, ins.Onbuild)
    assert o.expression == "RUN echo $HOME"
    assert isinstance(o.trigger, ins.Run)


def test_onbuild_trigger_is_validated() -> None:
    bad("ONBUILD COPY a", "COPY requires at least two arguments")
    bad("ONBUILD FORM x", "unknown instruction: FORM")


@pytest.mark.parametrize(("text", "match"), [
    ("ONBUILD ONBUILD RUN x", "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD maintainer me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("ONBUILD", "ONBUILD requires at least one argument"),
])
def test_onbuild_forbidden(text: str, match: str) -> None:
    bad(text, match)


# unknown instructions
def test_unknown_instruction_hint_and_caret() -> None:
    e = bad("FROM x\n\n  FORM y\n", "unknown instruction: FORM")
    assert e.line == 3 and e.column == 3
    assert str(e) == ("Dockerfile:3: unknown instruction: FORM (did you mean FROM?)\n"
                      "  3 |   FORM y\n"
                      "    |   ^")


def test_unknown_instruction_without_hint() -> None:
    e = bad("XYZZY a", "unknown instruction: XYZZY\n")
    assert e.hint == ""


def test_instruction_locations() -> None:
    i = one("RUN a \\\n b")
    assert (i.loc.line, i.loc.end_line, i.loc.original) == (1, 2, "RUN a  b")


def test_parse_base_image_triggers() -> None:
    from dockyard.build.convert import parse_triggers

    run, copy = parse_triggers(["RUN echo $HOME", "COPY . /app"])
    assert isinstance(run, ins.Run) and run.command.args == ("echo $HOME",)
    assert isinstance(copy, ins.Copy) and copy.dest == "/app" and copy.loc.line == 2
    with pytest.raises(DockerfileError, match="ONBUILD:1: FROM isn't allowed"):
        parse_triggers(["FROM x"])
