"""``dockyardd`` as a process: its socket, pidfile and data-root lock, its config
file rules, and a clean shutdown on SIGTERM."""

from __future__ import annotations

import grp
import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from tests.integration.daemon.harness import Daemon, running_daemon, short_workdir

pytestmark = pytest.mark.integration


@pytest.fixture
def work(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    return short_workdir(tmp_path_factory, "life")


def run_dockyardd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dockyard.daemon.main", *args],
                          capture_output=True, text=True, timeout=60)


def test_socket_is_0660_and_everything_goes_on_sigterm(work):
    with running_daemon(work) as d:
        st = os.stat(d.socket_path)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
        try:
            expected_gid = grp.getgrnam("docker").gr_gid   # dockerd's default group
        except KeyError:
            expected_gid = 0
        assert st.st_gid == expected_gid
        assert int(d.pidfile.read_text()) == d.process.pid
        code = d.stop()
        assert code == 0, d.log_tail()
        assert not d.socket_path.exists()
        assert not d.pidfile.exists()


def test_a_second_daemon_on_the_same_data_root_is_refused(work):
    with running_daemon(work) as d:
        other = run_dockyardd("-H", f"unix://{work}/other.sock", "--data-root",
                              str(d.data_root), "--exec-root", str(work / "exec2"),
                              "--config-file", str(work / "none.json"))
        assert other.returncode == 1
        assert "another dockyardd is using the data root" in other.stderr
        assert d.request("GET", "/_ping").status == 200   # the first one is untouched


def test_a_live_socket_is_not_stolen_but_a_stale_one_is_replaced(work):
    with running_daemon(work) as d:
        other = run_dockyardd("-H", d.host, "--data-root", str(work / "root2"),
                              "--exec-root", str(work / "exec2"),
                              "--config-file", str(work / "none.json"))
        assert other.returncode == 1 and "another daemon is listening" in other.stderr
        d.kill()
        assert d.socket_path.exists()   # SIGKILL leaves the socket file behind
        d.start()
        assert d.request("GET", "/_ping").status == 200


def test_unknown_config_key_is_an_error_like_dockerd(work):
    cfg = work / "daemon.json"
    cfg.write_text(json.dumps({"data-root": str(work / "root"), "colour": "blue"}))
    out = run_dockyardd("--config-file", str(cfg), "--validate")
    assert out.returncode == 1
    assert "the following directives don't match any configuration option: colour" \
        in out.stderr


def test_a_setting_in_both_flag_and_file_is_an_error(work):
    cfg = work / "daemon.json"
    cfg.write_text(json.dumps({"data-root": "/from/file"}))
    out = run_dockyardd("--config-file", str(cfg), "--data-root", "/from/flag", "--validate")
    assert out.returncode == 1
    assert "specified both as a flag and in the configuration file" in out.stderr
    assert "/from/file" in out.stderr and "/from/flag" in out.stderr


def test_config_file_settings_are_used(work):
    cfg = work / "daemon.json"
    cfg.write_text(json.dumps({"data-root": str(work / "fromfile"), "labels": ["a=b"],
                               "insecure-registries": ["10.0.0.0/8"]}))
    d = Daemon(work, work / "fromfile", work / "dockyard.sock")
    d.argv = lambda *extra: [sys.executable, "-m", "dockyard.daemon.main", "-H", d.host,
                             "--exec-root", str(work / "exec"), "--config-file", str(cfg),
                             "--pidfile", str(d.pidfile)]
    d.start()
    try:
        info = d.request("GET", "/info").json()
        assert info["DockerRootDir"] == str(work / "fromfile")
        assert info["Labels"] == ["a=b"]
        assert "10.0.0.0/8" in info["RegistryConfig"]["InsecureRegistryCIDRs"]
    finally:
        d.stop()
        d.kill()


def test_a_named_socket_group_must_exist(work):
    out = run_dockyardd("-H", f"unix://{work}/g.sock", "-G", "no-such-group-dy",
                        "--data-root", str(work / "root"), "--exec-root", str(work / "exec"),
                        "--config-file", str(work / "none.json"), "--pidfile",
                        str(work / "exec" / "pid"))
    assert out.returncode == 1 and "group 'no-such-group-dy' not found" in out.stderr
    assert not (work / "g.sock").exists() and not (work / "exec" / "pid").exists()


def test_bad_flags_fail_fast(work):
    out = run_dockyardd("-H", "ftp://x", "--config-file", str(work / "none.json"),
                        "--validate")
    assert out.returncode == 1 and "unsupported protocol" in out.stderr
    out = run_dockyardd("--version")
    assert out.returncode == 0 and out.stdout.startswith("dockyardd version")


def test_tcp_listener_serves_the_same_api(work):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with running_daemon(work, "-H", f"tcp://127.0.0.1:{port}"):
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/v1.41/_ping")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == b"OK"
        finally:
            conn.close()


def test_sigterm_ends_open_event_streams_promptly(work):
    import time

    with running_daemon(work) as d:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(d.socket_path))
        try:
            s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(10)
            assert s.recv(100).startswith(b"HTTP/1.1 200")
            t0 = time.monotonic()
            assert d.stop() == 0, d.log_tail()
            assert time.monotonic() - t0 < 8
            rest = b""
            while chunk := s.recv(4096):
                rest += chunk
            assert rest.endswith(b"0\r\n\r\n")   # the chunked stream was ended cleanly
        finally:
            s.close()
