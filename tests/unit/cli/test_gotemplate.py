"""The --format subset renders like Go templates and refuses what it cannot do."""

from __future__ import annotations

import pytest

from dockyard.cli import gotemplate
from dockyard.cli.humanize import human_duration_seconds, human_size
from dockyard.errors import InvalidArgument

ROW = {"Repository": "busybox", "Tag": "latest", "ID": "abc", "Config": {"Cmd": ["sh"],
       "Labels": {"b": "2", "a": "1"}, "Entrypoint": None}}


@pytest.mark.parametrize(("template", "out"), [
    ("{{.Repository}}:{{.Tag}}", "busybox:latest"),
    ("{{ .ID }}", "abc"),
    ("{{json .Config.Cmd}}", '["sh"]'),
    ("{{.Config.Cmd}}", "[sh]"),
    ("{{.Config.Labels}}", "map[a:1 b:2]"),
    ("{{.Config.Entrypoint}}", "<nil>"),
    ("{{upper .Repository}}", "BUSYBOX"),
    ("a\\tb", "a\tb"),
])
def test_render(template, out):
    assert gotemplate.render(template, ROW) == out


def test_json_dot_is_the_whole_object():
    assert gotemplate.render("{{json .}}", {"A": 1}) == '{"A":1}'


@pytest.mark.parametrize("template", ["{{.Nope}}", "{{range .X}}", "{{index .Config 1}}"])
def test_unsupported_or_unknown_is_an_error(template):
    with pytest.raises(InvalidArgument):
        gotemplate.render(template, ROW)


def test_table_adds_aligned_headers():
    rows = [{"Repository": "busybox", "Tag": "latest"}, {"Repository": "me/app", "Tag": "1"}]
    out = gotemplate.render_rows("table {{.Repository}}\t{{.Tag}}", rows,
                                 {"Repository": "REPOSITORY", "Tag": "TAG"})
    assert out.splitlines() == ["REPOSITORY   TAG", "busybox      latest", "me/app       1"]


def test_without_table_no_header():
    out = gotemplate.render_rows("{{.Tag}}", [{"Tag": "x"}], {"Tag": "TAG"})
    assert out == "x\n"


@pytest.mark.parametrize(("size", "text"), [
    (0, "0B"), (128, "128B"), (1234, "1.23kB"), (2131456, "2.13MB"), (5 * 10**9, "5GB")])
def test_human_size(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize(("secs", "text"), [
    (0.5, "Less than a second"), (30, "30 seconds"), (61, "About a minute"),
    (600, "10 minutes"), (3600, "About an hour"), (7200, "2 hours"),
    (3 * 86400, "3 days"), (20 * 86400, "2 weeks"), (90 * 86400, "3 months"),
    (800 * 86400, "2 years")])
def test_human_duration(secs, text):
    assert human_duration_seconds(secs) == text
