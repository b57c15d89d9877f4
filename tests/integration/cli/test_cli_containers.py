"""The ``dockyard`` CLI through a real dockyardd: lifecycle, streams, exit codes."""

from __future__ import annotations

import os
import select
import tarfile
import time

import pytest

from .clid import CLI, name

NONET = ("--network", "none")


def test_run_foreground_output_and_exit_code(cli: CLI):
    out = cli.run("run", "--rm", *NONET, "busybox", "sh", "-c",
                  "echo out; echo err >&2; exit 3")
    assert out.returncode == 3, out.stderr
    assert out.stdout == "out\n"
    assert out.stderr == "err\n"
    assert cli.ok("ps", "-aq") == ""   # --rm removed it


def test_run_short_lived_echo(cli: CLI):
    out = cli.run("run", "--rm", *NONET, "busybox", "echo", "hello")
    assert (out.returncode, out.stdout) == (0, "hello\n"), out.stderr


def test_run_cannot_find_or_invoke(cli: CLI):
    out = cli.run("run", "--rm", *NONET, "busybox", "/no/such/binary")
    assert out.returncode == 127, out.stderr
    out = cli.run("run", "--rm", *NONET, "busybox", "/etc")
    assert out.returncode == 126, out.stderr
    out = cli.run("run", "--rm", *NONET, "--memory", "1x", "busybox")
    assert out.returncode == 125


def test_stdin_piping(cli: CLI):
    out = cli.run("run", "--rm", "-i", *NONET, "busybox", "sh", "-c", "cat; echo done",
                  input="piped line\n")
    assert (out.returncode, out.stdout) == (0, "piped line\ndone\n"), out.stderr


def test_detached_lifecycle(cli: CLI):
    n = name("life")
    cid = cli.ok("run", "-d", "--name", n, *NONET, "-l", "k=v", "busybox", "sleep", "300"
                 ).strip()
    assert len(cid) == 64
    ps = cli.ok("ps").splitlines()
    assert ps[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                             "PORTS", "NAMES"]
    row = next(line for line in ps if line.endswith(n))
    assert row.startswith(cid[:12]) and '"sleep 300"' in row and " Up " in row
    pid = int(cli.ok("inspect", "-f", "{{.State.Pid}}", n))
    assert os.path.exists(f"/proc/{pid}")
    assert cli.ok("ps", "-q", "--filter", "label=k=v") == cid[:12] + "\n"
    assert cli.ok("pause", n) == n + "\n"
    assert "(Paused)" in cli.ok("ps", "--format", "{{.Status}}", "-f", f"name={n}")
    assert cli.ok("unpause", n) == n + "\n"
    assert cli.ok("rename", n, n + "-2") == ""
    assert cli.ok("stop", "-t", "1", n + "-2") == n + "-2\n"
    assert cli.ok("wait", n + "-2") == "137\n"
    status = cli.ok("ps", "-a", "--format", "{{.Status}}", "-f", f"name={n}-2")
    assert status.startswith("Exited (137) ")
    assert cli.ok("rm", n + "-2") == n + "-2\n"
    out = cli.run("rm", n + "-2")
    assert out.returncode == 1
    assert out.stderr == f"Error response from daemon: No such container: {n}-2\n"


def test_create_start_attach_exit_code(cli: CLI):
    n = name("cs")
    cid = cli.ok("create", "--name", n, *NONET, "busybox", "sh", "-c",
                 "sleep 0.2; echo started; exit 4").strip()
    assert cli.ok("ps", "-a", "--format", "{{.State}}", "-f", f"id={cid}") == "created\n"
    out = cli.run("start", "-a", n)
    assert (out.returncode, out.stdout) == (4, "started\n"), out.stderr


def test_exec_logs_top(cli: CLI):
    n = name("exec")
    cli.ok("run", "-d", "--name", n, *NONET, "busybox", "sh", "-c",
           "echo line1; echo line2; sleep 300")
    out = cli.run("exec", n, "sh", "-c", "echo in-exec; exit 5")
    assert (out.returncode, out.stdout) == (5, "in-exec\n")
    out = cli.run("exec", "-i", n, "cat", input="to exec\n")
    assert (out.returncode, out.stdout) == (0, "to exec\n")
    assert cli.ok("exec", "-d", n, "sh", "-c", "echo bg > /tmp/bg") == ""
    deadline = time.monotonic() + 10
    while cli.run("exec", n, "cat", "/tmp/bg").stdout != "bg\n":
        assert time.monotonic() < deadline, "exec -d did not run"
        time.sleep(0.1)
    deadline = time.monotonic() + 10
    while cli.ok("logs", n) != "line1\nline2\n" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cli.ok("logs", n) == "line1\nline2\n"
    assert cli.ok("logs", "--tail", "1", n) == "line2\n"
    stamped = cli.ok("logs", "-t", n).splitlines()
    assert stamped[0].endswith(" line1") and stamped[0][:4].isdigit()
    top = cli.ok("top", n).splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"]
    assert any("sleep 300" in line for line in top[1:])


def test_cp_and_export(cli: CLI, tmp_path):
    n = name("cp")
    cli.ok("run", "-d", "--name", n, *NONET, "busybox", "sleep", "300")
    src = tmp_path / "in.txt"
    src.write_text("copied in\n")
    cli.ok("cp", str(src), f"{n}:/tmp/")
    assert cli.ok("exec", n, "cat", "/tmp/in.txt") == "copied in\n"
    cli.ok("cp", str(src), f"{n}:/tmp/renamed.txt")
    assert cli.ok("exec", n, "cat", "/tmp/renamed.txt") == "copied in\n"
    cli.ok("exec", n, "sh", "-c", "mkdir -p /d/sub && echo x > /d/sub/f")
    cli.ok("cp", f"{n}:/d", str(tmp_path / "out"))
    assert (tmp_path / "out" / "sub" / "f").read_text() == "x\n"
    cli.ok("cp", f"{n}:/tmp/in.txt", str(tmp_path))
    assert (tmp_path / "in.txt").read_text() == "copied in\n"
    raw = cli.run("cp", f"{n}:/tmp/in.txt", "-", input=b"")
    with tarfile.open(fileobj=__import__("io").BytesIO(raw.stdout)) as tar:
        assert tar.extractfile("in.txt").read() == b"copied in\n"
    out = cli.run("export", n, input=b"")
    assert out.returncode == 0 and out.stdout[257:262] == b"ustar"
    exported = tmp_path / "fs.tar"
    cli.ok("export", "-o", str(exported), n)
    with tarfile.open(exported) as tar:
        names = tar.getnames()
    assert "bin/busybox" in names or "./bin/busybox" in names
    assert any(x.endswith("tmp/in.txt") for x in names)


def test_inspect_errors_and_formats(cli: CLI):
    out = cli.run("inspect", name("nothere"))
    assert out.returncode == 1
    assert out.stderr == f"Error: No such object: {name('nothere')}\n"
    assert out.stdout == "[]\n"
    out = cli.run("container", "inspect", name("nothere"))
    assert out.stderr == f"Error response from daemon: No such container: " \
                         f"{name('nothere')}\n"


def test_tty_run_with_resize(cli: CLI):
    """``run -it`` in a real pseudo terminal: raw mode, the window size, the exit code."""
    import fcntl
    import pty
    import struct
    import subprocess
    import sys
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "run", "-it",
                             "--rm", *NONET, "busybox", "sh"], stdin=slave, stdout=slave,
                            stderr=slave, env=cli.env, start_new_session=True)
    buf = b""

    def read_until(marker: bytes, timeout: float = 20) -> bytes:
        nonlocal buf
        deadline = time.monotonic() + timeout
        while marker not in buf and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    buf += os.read(master, 4096)
                except OSError:
                    break
        return buf

    try:
        time.sleep(0.5)
        os.write(master, b"stty size; echo MARK$((40+2))\r")
        assert b"MARK42" in read_until(b"MARK42"), buf
        assert b"33 101" in buf
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 20, 70, 0, 0))
        os.killpg(proc.pid, 28)   # SIGWINCH, as the terminal would send
        time.sleep(0.5)
        os.write(master, b"stty size; echo MARK$((40+3))\r")
        assert b"MARK43" in read_until(b"MARK43"), buf
        assert b"20 70" in buf
        os.write(master, b"exit 7\r")
        assert proc.wait(timeout=20) == 7
        assert termios.tcgetattr(slave) == before   # the terminal was restored
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)


def test_volumes(cli: CLI):
    v = name("vol")
    assert cli.ok("volume", "create", "--label", "x=1", v) == v + "\n"
    assert v in cli.ok("volume", "ls", "-q").split()
    assert cli.ok("volume", "inspect", "-f", "{{.Name}} {{.Labels}}", v) == \
        f"{v} map[x:1]\n"
    cli.ok("run", "--rm", *NONET, "-v", f"{v}:/data", "busybox", "sh", "-c",
           "echo kept > /data/f")
    out = cli.run("run", "--rm", *NONET, "-v", f"{v}:/data", "busybox", "cat", "/data/f")
    assert out.stdout == "kept\n", out.stderr
    assert cli.ok("volume", "rm", v) == v + "\n"
    cli.ok("volume", "create", v + "-p")
    out = cli.ok("volume", "prune", "-f", "-a")
    assert out.startswith("Deleted Volumes:\n") and v + "-p" in out
    assert v + "-p" not in cli.ok("volume", "ls", "-q").split()


def test_system_verbs(cli: CLI):
    assert "Server Version:" in cli.ok("info")
    assert cli.ok("version", "-f", "{{.Server.ApiVersion}}") == "1.41\n"
    df = cli.ok("system", "df").splitlines()
    assert df[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split()[0] for line in df[1:]] == ["Images", "Containers", "Local",
                                                    "Build"]


def test_events_stream(cli: CLI):
    n = name("ev")
    since = str(int(time.time()) - 1)
    cli.ok("run", "--rm", *NONET, "--name", n, "busybox", "true")
    out = cli.ok("events", "--since", since, "--until", str(int(time.time()) + 1),
                 "--filter", f"container={n}", "--format", "{{.Action}}")
    actions = out.split()
    assert "create" in actions and "start" in actions and "destroy" in actions




@pytest.mark.xfail(reason="engine: after the detach (attach and wait connections "
                          "closed) the `run -it` shell still dies about 1 run in 3 "
                          "(reported in ANNOUNCEMENTS 00:49)", strict=False)
def test_detach_keys_and_attach(cli: CLI):
    """ctrl-p ctrl-q leaves a -it container running; attach reconnects to it."""
    import pty
    import subprocess
    import sys

    n = name("det")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "run", "-it",
                             "--name", n, *NONET, "busybox", "sh"], stdin=slave,
                            stdout=slave, stderr=slave, env=cli.env, start_new_session=True)
    try:
        time.sleep(1.0)
        os.write(master, b"echo ready$((1+1))\r")
        buf = b""
        deadline = time.monotonic() + 20
        while b"ready2" not in buf and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                buf += os.read(master, 4096)
        assert b"ready2" in buf
        os.write(master, b"\x10\x11")
        assert proc.wait(timeout=20) == 0
        time.sleep(0.5)   # the container must still run after the attach has ended
        assert cli.ok("inspect", "-f", "{{.State.Running}}", n) == "true\n", \
            cli.daemon.log_tail(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    cli.ok("exec", n, "sh", "-c", "kill -TERM 1 || true")   # sh as pid 1 ignores TERM
    cli.ok("kill", n)
    assert cli.ok("wait", n) == "137\n"


def test_logs_follow_ends_when_the_container_exits(cli: CLI):
    n = name("follow")
    cli.ok("run", "-d", "--name", n, *NONET, "busybox", "sh", "-c",
           "for i in 1 2 3; do echo tick$i; sleep 0.3; done")
    out = cli.run("logs", "-f", n, timeout=30)
    assert (out.returncode, out.stdout) == (0, "tick1\ntick2\ntick3\n"), out.stderr


def test_restart_update_and_prune(cli: CLI):
    n = name("upd")
    cli.ok("run", "-d", "--name", n, *NONET, "busybox", "sleep", "300")
    first = cli.ok("inspect", "-f", "{{.State.StartedAt}}", n)
    assert cli.ok("restart", "-t", "0", n) == n + "\n"
    assert cli.ok("inspect", "-f", "{{.State.StartedAt}} {{.State.Running}}", n) \
        .split()[1] == "true"
    assert cli.ok("inspect", "-f", "{{.State.StartedAt}}", n) != first
    assert cli.ok("update", "--memory", "64m", "--memory-swap", "128m", n) == n + "\n"
    assert cli.ok("inspect", "-f", "{{.HostConfig.Memory}}", n) == f"{64 << 20}\n"
    out = cli.run("update", n)
    assert out.returncode == 125 and "one or more flags" in out.stderr
    cli.ok("kill", n)
    stopped = cli.ok("create", *NONET, "busybox", "true").strip()
    out = cli.ok("system", "prune", "-f")
    assert out.startswith("Deleted Containers:\n")
    assert stopped in out and "Total reclaimed space:" in out
    assert cli.ok("ps", "-aq") == ""


def test_attach_to_a_running_container(cli: CLI):
    n = name("att")
    cli.ok("run", "-d", "--name", n, *NONET, "busybox", "sh", "-c",
           "sleep 1.5; echo attached-out; echo attached-err >&2; exit 3")
    out = cli.run("attach", "--no-stdin", n, timeout=30)
    assert out.returncode == 3, out.stderr
    assert out.stdout == "attached-out\n"
    assert out.stderr == "attached-err\n"
    out = cli.run("attach", n)
    assert out.returncode == 1
    assert "You cannot attach to a stopped container" in out.stderr


def test_signals_are_proxied_and_tty_needs_a_terminal(cli: CLI):
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "run", "--rm",
                             *NONET, "busybox", "sh", "-c",
                             "trap 'echo got-int; exit 9' INT; echo ready; "
                             "while true; do sleep 0.1; done"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli.env)
    try:
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 9
        assert proc.stdout.read() == b"got-int\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    out = cli.run("run", "-it", "--rm", *NONET, "busybox", "true", input="")
    assert (out.returncode, out.stderr) == (1, "the input device is not a TTY\n")


def test_exec_it_in_a_terminal(cli: CLI):
    import fcntl
    import pty
    import struct
    import subprocess
    import sys
    import termios

    n = name("xit")
    cli.ok("run", "-d", "--name", n, *NONET, "busybox", "sleep", "300")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 41, 97, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "exec", "-it", n,
                             "sh", "-c", "stty size; tty; exit 6"], stdin=slave,
                            stdout=slave, stderr=slave, env=cli.env, start_new_session=True)
    buf = b""
    try:
        assert proc.wait(timeout=30) == 6
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    assert b"41 97" in buf and b"/dev/pts/" in buf, buf


def test_logs_follow_into_a_closed_pipe_ends(cli: CLI):
    import subprocess
    import sys

    n = name("pipe")
    cli.ok("run", "-d", "--name", n, *NONET, "busybox", "sh", "-c",
           "while true; do echo line; sleep 0.05; done")
    logs = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "logs", "-f", n],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli.env)
    try:
        assert logs.stdout.readline() == b"line\n"
        logs.stdout.close()   # like `| head -1` exiting
        assert logs.wait(timeout=20) == 0
    finally:
        if logs.poll() is None:
            logs.kill()
            logs.wait()
        logs.stderr.close()


def test_stats_no_stream_and_live(cli: CLI):
    import subprocess
    import sys

    n = name("stats")
    cli.ok("run", "-d", "--name", n, *NONET, "busybox", "sleep", "300")
    out = cli.ok("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", n)
    assert out == f"{n} 1\n"
    live = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "stats", n],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli.env)
    try:
        time.sleep(3.5)
    finally:
        live.terminate()
        data, _ = live.communicate(timeout=20)
    frames = [f for f in data.decode().split("\033[2J\033[H") if f]
    assert len(frames) >= 2, data
    assert frames[-1].splitlines()[0].split()[:3] == ["CONTAINER", "ID", "NAME"]
    assert n in frames[-1] and "%" in frames[-1]
