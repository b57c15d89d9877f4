"""docker's output formats: ps rows and tables, ports, inspect indentation, stats, df,
events, and the pieces they are built from (flags, units, detach keys)."""

from __future__ import annotations

import json

import pytest

from dockyard.cli import gotemplate
from dockyard.cli.commands import container_info as ci
from dockyard.cli.commands import system
from dockyard.cli.flags import ArgCountError, FlagError, HelpRequested, Spec
from dockyard.cli.tty import DetachScanner, parse_detach_keys
from dockyard.cli.units import duration_ns, parse_port_spec, ram_in_bytes

NOW = 1_800_000_000.0
# A /containers/json entry as dockerd returns it.
PS_ITEM = {
    "Id": "8dfafdbc3a40" + "0" * 52, "Names": ["/web", "/other/alias"],
    "Image": "docker.io/library/busybox:latest", "ImageID": "sha256:" + "b" * 64,
    "Command": "httpd -f -p 80 -h /var/www/html", "Created": int(NOW) - 125,
    "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
              {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
              {"PrivatePort": 443, "Type": "tcp"}, {"PrivatePort": 444, "Type": "tcp"}],
    "Labels": {"a": "1"}, "State": "running", "Status": "Up 2 minutes",
    "NetworkSettings": {"Networks": {"bridge": {}}},
    "Mounts": [{"Name": "data", "Source": "/var/lib/x", "Driver": "local"}],
}


def test_ps_row_like_docker():
    row = ci.ps_row(PS_ITEM, trunc=True, now=NOW)
    assert row["ID"] == "8dfafdbc3a40"
    assert row["Names"] == "web"
    assert row["Image"] == "busybox:latest"
    assert row["Command"] == '"httpd -f -p 80 -h /…"'
    assert row["RunningFor"] == "2 minutes ago"
    assert row["Ports"] == "443-444/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
    assert row["Networks"] == "bridge" and row["LocalVolumes"] == "1"
    full = ci.ps_row(PS_ITEM, trunc=False, now=NOW)
    assert full["Names"] == "web,other/alias" and len(full["ID"]) == 64
    assert full["Command"] == '"httpd -f -p 80 -h /var/www/html"'


def test_ps_table_columns_and_widths():
    rows = [ci.ps_row(PS_ITEM, True, NOW)]
    out = gotemplate.render_rows(ci.PS_DEFAULT, rows, ci.PS_HEADERS).splitlines()
    assert out[0] == ("CONTAINER ID   IMAGE            COMMAND                  CREATED         "
                      "STATUS         PORTS                                                  "
                      "NAMES")
    assert out[1].startswith("8dfafdbc3a40   busybox:latest   \"httpd -f -p 80 -h /…\"   ")
    assert out[1].endswith("   web")


def test_empty_table_uses_minimum_width_10():
    out = gotemplate.render_rows(ci.PS_DEFAULT, [], ci.PS_HEADERS)
    assert out == ("CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n")


def test_json_dot_of_a_ps_row_has_sorted_string_fields():
    row = ci.ps_row(PS_ITEM, True, NOW)
    doc = json.loads(gotemplate.render("{{json .}}", row))
    assert list(doc) == sorted(doc)
    assert all(isinstance(v, str) for k, v in doc.items() if k != "Platform")


@pytest.mark.parametrize(("ports", "text"), [
    ([], ""),
    ([{"PrivatePort": 80, "Type": "tcp"}], "80/tcp"),
    ([{"PrivatePort": p, "Type": "tcp"} for p in (80, 81, 82, 90)], "80-82/tcp, 90/tcp"),
    ([{"IP": "0.0.0.0", "PrivatePort": 53, "PublicPort": 53, "Type": "udp"}],
     "0.0.0.0:53->53/udp"),
    ([{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 9000, "Type": "tcp"}],
     "127.0.0.1:9000->80/tcp"),
])
def test_displayable_ports(ports, text):
    assert ci.displayable_ports(ports) == text


def test_indent_json_like_go():
    raw = '{"A":[],"B":{},"C":[1,{"D":"x,y:[z]"}],"E":"\\u003c\\"q"}'
    assert ci.indent_json("[" + raw + "]") == (
        '[\n    {\n        "A": [],\n        "B": {},\n        "C": [\n            1,\n'
        '            {\n                "D": "x,y:[z]"\n            }\n        ],\n'
        '        "E": "\\u003c\\"q"\n    }\n]')
    assert ci.indent_json("[]") == "[]"


def test_stats_row():
    s = {"id": "a" * 64, "name": "/web",
         "cpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000},
                       "system_cpu_usage": 20_000_000_000, "online_cpus": 2},
         "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000},
                          "system_cpu_usage": 10_000_000_000},
         "memory_stats": {"usage": 3 << 20, "limit": 1 << 30,
                          "stats": {"total_inactive_file": 1 << 20}},
         "networks": {"eth0": {"rx_bytes": 1234, "tx_bytes": 648}},
         "blkio_stats": {"io_service_bytes_recursive": [
             {"op": "Read", "value": 4096}, {"op": "Write", "value": 0}]},
         "pids_stats": {"current": 3}}
    row = ci.stats_row("web", s)
    assert row == {"Container": "web", "ID": "a" * 12, "Name": "web", "CPUPerc": "20.00%",
                   "MemUsage": "2MiB / 1GiB", "MemPerc": "0.20%",
                   "NetIO": "1.23kB / 648B", "BlockIO": "4.1kB / 0B", "PIDs": "3"}


def test_df_rows():
    doc = {"LayersSize": 4_000_000,
           "Images": [{"Size": 4_000_000, "SharedSize": 0, "Containers": 1}],
           "Containers": [{"SizeRw": 100, "State": "exited"}, {"SizeRw": 0,
                                                              "State": "running"}],
           "Volumes": [{"UsageData": {"Size": 10, "RefCount": 0}}], "BuildCache": []}
    rows = system.df_rows(doc)
    assert [r["TotalCount"] for r in rows] == ["1", "2", "1", "0"]
    assert rows[0]["Reclaimable"] == "0B (0%)"
    assert rows[1]["Reclaimable"] == "100B (100%)"
    assert rows[2]["Active"] == "0"


def test_event_line(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time
    time.tzset()
    ev = {"Type": "container", "Action": "start", "timeNano": 1_700_000_000_123_456_789,
          "Actor": {"ID": "abc", "Attributes": {"name": "web", "image": "busybox"}}}
    assert system.format_event(ev) == ("2023-11-14T22:13:20.123456789Z container start "
                                       "abc (image=busybox, name=web)")


def test_timestamps_for_since():
    assert ci.timestamp_param("1700000000") == "1700000000"
    assert float(ci.timestamp_param("10m", now=1000.0)) == 400.0
    assert float(ci.timestamp_param("2023-11-14T22:13:20Z")) == 1_700_000_000.0
    with pytest.raises(FlagError):
        ci.timestamp_param("yesterday-ish")


# --- parsing pieces -----------------------------------------------------------------

SPEC = Spec("[OPTIONS] IMAGE [CMD...]", [
    ("d detach", "bool", ""), ("e env", "list", ""), ("- name", "str", ""),
    ("t tty", "bool", ""), ("i interactive", "bool", ""), ("n last", "int", "")],
    interspersed=False, min_args=1)


def test_flags_like_pflag():
    opts, args = SPEC.parse(["-dit", "-eA=1", "-e", "B=2", "--name=x", "img", "sh", "-c",
                             "--name"])
    assert opts.detach and opts.interactive and opts.tty
    assert opts.env == ["A=1", "B=2"] and opts.name == "x"
    assert args == ["img", "sh", "-c", "--name"]   # stops at the image
    opts, _ = SPEC.parse(["--detach=false", "-n", "3", "img"])
    assert opts.detach is False and opts.last == 3 and opts.given("detach")


@pytest.mark.parametrize(("argv", "error"), [
    (["--nope", "img"], "unknown flag: --nope"),
    (["-z", "img"], "unknown shorthand flag: 'z' in -z"),
    (["--name"], "flag needs an argument: --name"),
    (["-n", "x", "img"], 'invalid argument "x" for "-n" flag'),
])
def test_flag_errors(argv, error):
    with pytest.raises(FlagError) as e:
        SPEC.parse(argv)
    assert e.value.message.startswith(error)


def test_help_and_arg_count():
    with pytest.raises(HelpRequested):
        SPEC.parse(["--help"])
    with pytest.raises(ArgCountError) as e:
        SPEC.parse([])
    assert e.value.text("dockyard run").startswith(
        "dockyard: 'dockyard run' requires at least 1 argument\n\nUsage:  dockyard run")


def test_interspersed_positionals():
    spec = Spec("C", [("f force", "bool", "")], min_args=1)
    opts, args = spec.parse(["a", "-f", "b"])
    assert opts.force and args == ["a", "b"]


@pytest.mark.parametrize(("text", "value"), [("512m", 512 << 20), ("1g", 1 << 30),
                                             ("100", 100), ("1.5k", 1536), ("2MiB", 2 << 20),
                                             ("64MB", 64 << 20)])
def test_ram_in_bytes(text, value):
    assert ram_in_bytes(text) == value


def test_durations():
    assert duration_ns("1m30s") == 90 * 10**9
    assert duration_ns("500ms") == 5 * 10**8
    assert duration_ns("0") == 0
    for bad in ("", "5", "1x", "s"):
        with pytest.raises(FlagError):
            duration_ns(bad)


@pytest.mark.parametrize(("spec", "out"), [
    ("80", [("80/tcp", {"HostIp": "", "HostPort": ""})]),
    ("8080:80", [("80/tcp", {"HostIp": "", "HostPort": "8080"})]),
    ("127.0.0.1:53:53/udp", [("53/udp", {"HostIp": "127.0.0.1", "HostPort": "53"})]),
    ("[::1]:80:80", [("80/tcp", {"HostIp": "::1", "HostPort": "80"})]),
    ("8000-8001:80-81", [("80/tcp", {"HostIp": "", "HostPort": "8000"}),
                         ("81/tcp", {"HostIp": "", "HostPort": "8001"})]),
    ("127.0.0.1::80", [("80/tcp", {"HostIp": "127.0.0.1", "HostPort": ""})]),
])
def test_port_specs(spec, out):
    assert parse_port_spec(spec) == out


@pytest.mark.parametrize("bad", ["99999:80", "80/xtp", "a:b", "8000-8002:80-81"])
def test_bad_port_specs(bad):
    with pytest.raises(FlagError):
        parse_port_spec(bad)


def test_detach_keys():
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("a,ctrl-@") == b"a\x00"
    with pytest.raises(ValueError):
        parse_detach_keys("ctrl-1")
    sc = DetachScanner(b"\x10\x11")
    assert sc.feed(b"ab\x10") == (b"ab", False)      # ctrl-p held back
    assert sc.feed(b"x") == (b"\x10x", False)        # not the sequence: released
    assert sc.feed(b"\x10") == (b"", False)
    assert sc.feed(b"\x11rest") == (b"", True)       # detached


@pytest.mark.parametrize(("arg", "out"), [
    ("web:/etc/hosts", ("web", "/etc/hosts")), ("/tmp/x", (None, "/tmp/x")),
    ("./a:b", (None, "./a:b")), ("file", (None, "file")), ("-", (None, "-")),
    ("c1:relative", ("c1", "relative")),
])
def test_cp_argument_split(arg, out):
    from dockyard.cli.commands.container_files import _split_cp

    assert _split_cp(arg) == out


def test_raw_terminal_is_restored_after_an_error():
    import os
    import pty
    import termios

    from dockyard.cli.tty import RawTerminal

    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        with pytest.raises(RuntimeError), RawTerminal(slave):
            assert not termios.tcgetattr(slave)[3] & termios.ECHO
            raise RuntimeError("boom")
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)
