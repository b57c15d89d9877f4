"""merge_image_config follows dockerd's create-time merge of request and image config."""

from __future__ import annotations

import pytest

from dockyard.engine.imageconfig import command_line, fill_hostname, merge_image_config
from dockyard.errors import InvalidArgument

IMAGE = {
    "User": "app", "Env": ["PATH=/usr/bin", "LANG=C", "HOME=/home/app"],
    "Cmd": ["serve", "--port", "80"], "Entrypoint": ["/entry.sh"],
    "WorkingDir": "/srv", "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
    "Volumes": {"/data": {}}, "Labels": {"a": "image", "b": "image"},
    "StopSignal": "SIGQUIT", "Shell": ["/bin/bash", "-c"], "OnBuild": ["RUN true"],
    "Healthcheck": {"Test": ["CMD", "check"], "Interval": 30_000_000_000,
                    "Timeout": 5_000_000_000, "StartPeriod": 0, "Retries": 3},
}


def test_empty_request_takes_everything_from_the_image():
    out = merge_image_config({"Image": "x"}, IMAGE)
    assert out["User"] == "app"
    assert out["Env"] == IMAGE["Env"]
    assert out["Cmd"] == ["serve", "--port", "80"]
    assert out["Entrypoint"] == ["/entry.sh"]
    assert out["WorkingDir"] == "/srv"
    assert out["ExposedPorts"] == IMAGE["ExposedPorts"]
    assert out["Volumes"] == {"/data": {}}
    assert out["Labels"] == {"a": "image", "b": "image"}
    assert out["StopSignal"] == "SIGQUIT"
    assert out["Healthcheck"] == IMAGE["Healthcheck"]
    assert command_line(out) == ["/entry.sh", "serve", "--port", "80"]


def test_shell_and_onbuild_are_not_inherited_by_containers():
    out = merge_image_config({"Image": "x"}, IMAGE)
    assert "Shell" not in out and out["OnBuild"] is None


def test_fields_inspect_always_shows_are_filled():
    out = merge_image_config({"Image": "x", "Cmd": ["sh"]}, {})
    assert out["Tty"] is False and out["OpenStdin"] is False and out["Domainname"] == ""
    assert out["Hostname"] == "" and out["Entrypoint"] is None and out["Image"] == "x"


def test_fill_hostname():
    import os

    cid = "abcdef0123456789" * 4
    assert fill_hostname({}, "none", cid)["Hostname"] == "abcdef012345"
    assert fill_hostname({"Hostname": ""}, "host", cid)["Hostname"] == os.uname().nodename
    assert fill_hostname({"Hostname": "mine"}, "host", cid)["Hostname"] == "mine"


def test_request_values_win_and_inputs_are_not_modified():
    req = {"User": "root", "WorkingDir": "/w", "StopSignal": "SIGTERM",
           "Env": ["LANG=fr", "NEW=1"], "Labels": {"a": "req"},
           "ExposedPorts": {"80/tcp": {}, "8080/tcp": {}}, "Volumes": {"/v": {}}}
    before = repr(req), repr(IMAGE)
    out = merge_image_config(req, IMAGE)
    assert (repr(req), repr(IMAGE)) == before
    assert out["User"] == "root" and out["WorkingDir"] == "/w"
    assert out["StopSignal"] == "SIGTERM"
    # request first, then image variables whose name the request does not set
    assert out["Env"] == ["LANG=fr", "NEW=1", "PATH=/usr/bin", "HOME=/home/app"]
    assert out["Labels"] == {"a": "req", "b": "image"}
    assert set(out["ExposedPorts"]) == {"80/tcp", "443/tcp", "8080/tcp"}
    assert set(out["Volumes"]) == {"/v", "/data"}


def test_cmd_alone_keeps_the_image_entrypoint():
    out = merge_image_config({"Cmd": ["other"]}, IMAGE)
    assert command_line(out) == ["/entry.sh", "other"]


def test_entrypoint_override_resets_the_image_cmd():
    out = merge_image_config({"Entrypoint": ["/bin/sh"]}, IMAGE)
    assert out["Cmd"] is None
    assert command_line(out) == ["/bin/sh"]
    out = merge_image_config({"Entrypoint": ["/bin/sh"], "Cmd": ["-c", "x"]}, IMAGE)
    assert command_line(out) == ["/bin/sh", "-c", "x"]


def test_empty_string_entrypoint_means_none():
    out = merge_image_config({"Entrypoint": [""], "Cmd": ["ls"]}, IMAGE)
    assert out["Entrypoint"] is None
    assert command_line(out) == ["ls"]
    with pytest.raises(InvalidArgument, match="No command specified"):
        merge_image_config({"Entrypoint": [""]}, IMAGE)


def test_explicit_empty_entrypoint_list_keeps_image_cmd_but_not_its_entrypoint():
    out = merge_image_config({"Entrypoint": []}, IMAGE)
    assert out["Cmd"] == ["serve", "--port", "80"]
    assert command_line(out) == ["serve", "--port", "80"]


def test_string_cmd_and_entrypoint_are_one_element_lists():
    out = merge_image_config({"Cmd": "echo hi", "Entrypoint": "/bin/sh -c"}, {})
    assert out["Cmd"] == ["echo hi"] and out["Entrypoint"] == ["/bin/sh -c"]


def test_bad_cmd_type_is_invalid():
    with pytest.raises(InvalidArgument, match=r"Config\.Cmd"):
        merge_image_config({"Cmd": [1, 2]}, {})


def test_no_command_anywhere_is_an_error():
    with pytest.raises(InvalidArgument, match="No command specified"):
        merge_image_config({"Image": "scratch"}, {})


def test_healthcheck_fields_fall_back_one_by_one():
    out = merge_image_config({"Cmd": ["x"], "Healthcheck": {"Interval": 1_000_000_000}},
                             IMAGE)
    hc = out["Healthcheck"]
    assert hc["Test"] == ["CMD", "check"]
    assert hc["Interval"] == 1_000_000_000
    assert hc["Timeout"] == 5_000_000_000 and hc["Retries"] == 3


def test_no_healthcheck_anywhere_leaves_none():
    assert "Healthcheck" not in merge_image_config({"Cmd": ["x"]}, {})


def test_empty_image_keeps_request_and_docker_null_shapes():
    out = merge_image_config({"Cmd": ["x"]}, {})
    assert out["Env"] is None and out["Volumes"] is None and out["ExposedPorts"] is None
    assert out["Labels"] == {} and out["User"] == "" and out["WorkingDir"] == ""
    assert "StopSignal" not in out


def test_config_must_be_an_object():
    with pytest.raises(InvalidArgument, match="Config cannot be empty"):
        merge_image_config(None, {})  # type: ignore[arg-type]
