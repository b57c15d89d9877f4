"""The Go template interpreter behind --format: control flow, functions, errors."""

from __future__ import annotations

import pytest

from dockyard.cli import gotemplate
from dockyard.errors import InvalidArgument

DOC = {"Name": "/web", "State": {"Status": "running", "Pid": 42, "Running": True},
       "Config": {"Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "1"}, "Cmd": None},
       "Ports": {"80/tcp": [{"HostPort": "8080"}], "443/tcp": None},
       "Nets": {"bridge": {"IP": "172.17.0.2"}, "alpha": {"IP": "10.0.0.2"}}, "Zero": 0}


@pytest.mark.parametrize(("template", "out"), [
    ("{{range .Nets}}{{.IP}} {{end}}", "10.0.0.2 172.17.0.2 "),   # maps: sorted keys
    ("{{range $k, $v := .Nets}}{{$k}}={{$v.IP}};{{end}}", "alpha=10.0.0.2;bridge=172.17.0.2;"),
    ("{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}", "0:A=1 1:B=2 "),
    ("{{range .Config.Cmd}}x{{else}}empty{{end}}", "empty"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if eq .State.Status \"exited\"}}x{{else if eq .State.Pid 42}}pid{{end}}", "pid"),
    ("{{if .Zero}}a{{else}}b{{end}}", "b"),
    ("{{with .State}}{{.Status}}/{{$.Name}}{{end}}", "running//web"),
    ("{{(index .Ports \"80/tcp\" 0).HostPort}}", "8080"),
    ("{{index .Config.Labels \"a\"}}", "1"),
    ("{{join .Config.Env \",\"}}", "A=1,B=2"),
    ("{{len .Config.Env}} {{len .Nets}}", "2 2"),
    ("{{.Name | upper}}", "/WEB"),
    ("{{.Config.Labels | json}}", '{"a":"1","b":"2"}'),
    ("{{printf \"%s-%d-%5s|%-4s|\" .Name .State.Pid \"ab\" \"c\"}}", "/web-42-   ab|c   |"),
    ("{{printf \"%q %v %%\" .Name .State.Running}}", '"/web" true %'),
    ("a {{- \" b \" -}} c", "a b c"),
    ("{{/* a comment */}}x", "x"),
    ("{{$n := .State.Pid}}{{$n}}", "42"),
    ("{{and .State.Running .Zero}} {{or .Zero \"d\"}} {{not .Zero}}", "0 d true"),
    ("{{split \"a:b\" \":\"}} {{title \"hello world\"}} {{truncate \"abcdef\" 3}}",
     "[a b] Hello World abc"),
    ("{{range .Config.Env}}{{println .}}{{end}}", "A=1\nB=2\n"),
    ("{{.Config.Cmd}} {{.Config.Labels}}", "<nil> map[a:1 b:2]"),
])
def test_templates(template, out):
    assert gotemplate.render(template, DOC) == out


@pytest.mark.parametrize("template", [
    "{{range .Nets}}", "{{end}}", "{{if}}x{{end}}", "{{nosuchfunc .Name}}",
    "{{.Name .State}}", "{{index .Config.Env 5}}", "{{define \"x\"}}{{end}}",
    "{{.Missing}}", "{{\"unterminated}}", "{{(index .Config.Env 0}}",
])
def test_errors_are_invalid_argument(template):
    with pytest.raises(InvalidArgument):
        gotemplate.render(template, DOC)


def test_table_header_with_functions():
    rows = [{"Names": "web", "Image": "busybox"}]
    out = gotemplate.render_rows("table {{.Names}}\t{{upper .Image}}", rows,
                                 {"Names": "NAMES", "Image": "IMAGE"})
    assert out.splitlines() == ["NAMES     IMAGE", "web       BUSYBOX"]


def test_row_methods_take_arguments_and_stay_out_of_json():
    row = gotemplate.Row({"Names": "web"}, {"Label": lambda k: {"a": "1"}.get(k, "")})
    assert gotemplate.render('{{.Label "a"}}-{{.Label "b"}}', row) == "1-"
    assert gotemplate.render("{{json .}}", row) == '{"Names":"web"}'
