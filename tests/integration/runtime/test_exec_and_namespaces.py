"""exec, user/time namespaces, joining a namespace by path, terminals."""

from __future__ import annotations

import array
import json
import os
import socket
import threading

import pytest

from tests.conftest import require_root
from tests.integration.runtime.core_support import Runtime, make_config, write_bundle


@pytest.fixture
def rt(runtime_cmd, tmp_path) -> Runtime:
    require_root()
    return Runtime(runtime_cmd, tmp_path / "state")


def test_exec_joins_every_namespace_and_the_cgroup(rt, busybox_rootfs, container_id):
    spec = make_config(["sleep", "60"], hostname="inner")
    bundle = write_bundle(busybox_rootfs, spec)
    rt("run", "-d", "--bundle", str(bundle), container_id)
    try:
        init = rt.state(container_id)["pid"]
        out = rt("exec", "--env", "EXTRA=1", "--cwd", "/tmp", container_id, "sh", "-c",
                 'echo "$$ $EXTRA $(pwd) $(hostname)"; readlink /proc/1/exe; '
                 "for n in mnt net pid uts ipc; do readlink /proc/self/ns/$n; done").stdout
        lines = out.splitlines()
        first = lines[0].split()
        assert first[1:] == ["1", "/tmp", "inner"]
        assert int(first[0]) > 1, "exec'd process is not inside the pid namespace"
        assert lines[1] == "/bin/busybox"
        for name, line in zip(("mnt", "net", "pid", "uts", "ipc"), lines[2:], strict=True):
            assert line == os.readlink(f"/proc/{init}/ns/{name}"), name
        # the exec'd process sat in the container's cgroup: ps saw it
        code = rt("exec", container_id, "sh", "-c", "exit 5", check=False).returncode
        assert code == 5
        missing = rt("exec", container_id, "/no/such", check=False)
        assert missing.returncode != 0 and "/no/such" in missing.stderr
    finally:
        rt.cleanup(container_id)


def test_exec_detach_with_pid_file_and_process_json(rt, busybox_rootfs, container_id, tmp_path):
    bundle = write_bundle(busybox_rootfs, make_config(["sleep", "60"]))
    rt("run", "-d", "--bundle", str(bundle), container_id)
    try:
        process = {"args": ["sleep", "30"], "cwd": "/", "env": ["PATH=/bin"],
                   "user": {"uid": 1000, "gid": 1000}}
        pfile = tmp_path / "process.json"
        pfile.write_text(json.dumps(process))
        pid_file = tmp_path / "exec.pid"
        rt("exec", "--detach", "--pid-file", str(pid_file), "--process", str(pfile),
           container_id)
        pid = int(pid_file.read_text())
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        assert "\nUid:\t1000\t1000\t1000\t1000\n" in status
        pids = json.loads(rt("ps", "-f", "json", container_id).stdout)
        assert pid in pids
    finally:
        rt.cleanup(container_id)


def test_user_namespace_maps_and_time_offsets(rt, busybox_rootfs, container_id):
    spec = make_config(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; "
                                    "cut -d. -f1 /proc/uptime"])
    linux = spec["linux"]
    linux["namespaces"] += [{"type": "user"}, {"type": "time"}]
    linux["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    linux["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0}}
    # A user namespace cannot mount a cgroup (v1) hierarchy it does not own.
    spec["mounts"] = [m for m in spec["mounts"] if m["type"] != "cgroup"]
    os.chown(busybox_rootfs, 200000, 200000)
    # The namespaced root (host uid 200000) must be able to reach the rootfs:
    # pytest's temp directories are 0700, so open them for search like /run is.
    for parent in busybox_rootfs.parents:
        if str(parent) in ("/", "/tmp"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o001)
    bundle = write_bundle(busybox_rootfs, spec)
    out = rt("run", "--bundle", str(bundle), container_id).stdout.split("\n")
    assert out[0].split() == ["0", "200000", "65536"]
    assert out[1].split() == ["0", "200000", "65536"]
    assert out[2] == "0"
    assert int(out[3]) >= 86400 * 365


def test_join_network_namespace_by_path(rt, busybox_rootfs, container_id, tmp_path):
    first = write_bundle(busybox_rootfs, make_config(["sleep", "60"]))
    rt("run", "-d", "--bundle", str(first), container_id)
    second_id = container_id + "-b"
    try:
        netns = f"/proc/{rt.state(container_id)['pid']}/ns/net"
        rootfs2 = tmp_path / "b2" / "rootfs"
        os.makedirs(rootfs2.parent)
        os.system(f"cp -a {busybox_rootfs} {rootfs2}")
        spec = make_config(["readlink", "/proc/self/ns/net"])
        for ns in spec["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = netns
        bundle2 = write_bundle(rootfs2, spec)
        out = rt("run", "--bundle", str(bundle2), second_id).stdout.strip()
        assert out == os.readlink(netns)
        bad = dict(spec)
        for ns in bad["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = "/proc/self/ns/nope"
        write_bundle(rootfs2, bad)
        failed = rt("run", "--bundle", str(bundle2), second_id, check=False)
        assert failed.returncode != 0 and "/proc/self/ns/nope" in failed.stderr
        assert not (rt.root / second_id).exists()
    finally:
        rt.cleanup(second_id)
        rt.cleanup(container_id)


class ConsoleReceiver:
    """A --console-socket listener that keeps the pty master it is sent."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.master: int | None = None
        self.name = b""
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            fds = array.array("i")
            msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[:fds.itemsize])
            self.name = msg
            self.master = fds[0] if fds else None

    def close(self) -> None:
        self.sock.close()
        if self.master is not None:
            os.close(self.master)


def _read_until(fd: int, needle: bytes, limit: float = 10) -> bytes:
    import select
    import time

    data = b""
    deadline = time.monotonic() + limit
    while needle not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_terminal_through_console_socket(rt, busybox_rootfs, container_id, tmp_path):
    spec = make_config(["sh", "-c", "tty; stty size; read line; echo got:$line"])
    spec["process"]["terminal"] = True
    spec["process"]["consoleSize"] = {"height": 33, "width": 101}
    bundle = write_bundle(busybox_rootfs, spec)
    receiver = ConsoleReceiver(str(tmp_path / "console.sock"))
    try:
        rt("run", "-d", "--console-socket", str(tmp_path / "console.sock"),
           "--bundle", str(bundle), container_id)
        receiver.thread.join(10)
        assert receiver.master is not None, "no pty master received"
        out = _read_until(receiver.master, b"33 101")
        assert b"/dev/pts/0" in out
        assert b"33 101" in out
        os.write(receiver.master, b"hello\n")
        assert b"got:hello" in _read_until(receiver.master, b"got:hello")
    finally:
        receiver.close()
        rt.cleanup(container_id)


def test_terminal_requires_console_socket_when_detached(rt, busybox_rootfs, container_id):
    spec = make_config(["true"])
    spec["process"]["terminal"] = True
    bundle = write_bundle(busybox_rootfs, spec)
    failed = rt("create", "--bundle", str(bundle), container_id, check=False)
    assert failed.returncode != 0 and "console-socket" in failed.stderr
    assert not (rt.root / container_id).exists()


def test_foreground_run_and_exec_relay_their_terminal(rt, busybox_rootfs, container_id):
    spec = make_config(["sh", "-c", "tty; read x; echo got:$x; exit 4"])
    spec["process"]["terminal"] = True
    bundle = write_bundle(busybox_rootfs, spec)
    ran = rt("run", "--bundle", str(bundle), container_id, input="hello\n", check=False)
    assert ran.returncode == 4, ran.stderr
    assert "/dev/pts/0" in ran.stdout and "got:hello" in ran.stdout
    spec = make_config(["sleep", "60"])
    write_bundle(busybox_rootfs, spec)
    rt("run", "-d", "--bundle", str(bundle), container_id)
    try:
        out = rt("exec", "-t", container_id, "sh", "-c", "tty; read x; echo got:$x",
                 input="there\n").stdout
        assert "/dev/pts/" in out and "got:there" in out
    finally:
        rt.cleanup(container_id)


def test_update_and_ps(rt, busybox_rootfs, container_id):
    bundle = write_bundle(busybox_rootfs, make_config(["sleep", "60"]))
    rt("run", "-d", "--bundle", str(bundle), container_id)
    try:
        rt("update", "--pids-limit", "42", container_id)
        pids_max = [os.path.join(top, "pids.max") for top, dirs, _ in os.walk(
            "/sys/fs/cgroup/pids") if top.endswith(container_id)]
        if pids_max:
            with open(pids_max[0]) as f:
                assert f.read().strip() == "42"
        bad = rt("update", "--resources", "-", container_id, input="[1]", check=False)
        assert bad.returncode != 0 and "JSON object" in bad.stderr
        table = rt("ps", container_id).stdout.splitlines()
        assert "PID" in table[0] and len(table) == 2 and "sleep" in table[1]
    finally:
        rt.cleanup(container_id)
