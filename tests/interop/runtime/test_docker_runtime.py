"""Real docker runs containers through dockyard-runtime, side by side with runc.

Each test runs under both runtimes registered in the session's private dockerd:
``runc`` is the control (if a runc row fails, the test or the machine is wrong, not
dockyard), ``dockyard`` is this tree's runtime (``--add-runtime dockyard=<wrapper>``).
Every effect is checked from inside the container (cgroup files, /proc/self/status,
the filesystem) and, where it has a host-side trace, on the host too.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.interop.runtime.ptyrun import PtySession
from tests.support.dockerd import DOCKER_CLI, Dockerd

pytestmark = pytest.mark.interop

RUNTIMES = ["runc", "dockyard"]

# docker's default capability set (moby oci/caps/defaults.go), as bit numbers.
DOCKER_DEFAULT_CAPS = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
    "SETUID": 7, "SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_RAW": 13, "SYS_CHROOT": 18,
    "MKNOD": 27, "AUDIT_WRITE": 29, "SETFCAP": 31,
}


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return request.param


class Docker:
    """`docker` against the private daemon, with the runtime under test filled in."""

    def __init__(self, daemon: Dockerd, image: str, runtime: str, name_prefix: str):
        self.daemon = daemon
        self.image = image
        self.runtime = runtime
        self.prefix = name_prefix
        self._n = 0

    def name(self) -> str:
        self._n += 1
        return f"{self.prefix}-{self.runtime}-{self._n}"

    def run(self, *args: str, opts: tuple[str, ...] = (), check: bool = False,
            timeout: float = 120) -> subprocess.CompletedProcess:
        """``docker run --rm`` of the busybox image with ARGS as its command."""
        return self.daemon.cli("run", "--rm", "--runtime", self.runtime, "--network", "none",
                               "--name", self.name(), *opts, self.image, *args,
                               check=check, timeout=timeout)

    def run_detached(self, *args: str, opts: tuple[str, ...] = ()) -> str:
        name = self.name()
        self.daemon.cli("run", "-d", "--runtime", self.runtime, "--network", "none",
                        "--name", name, *opts, self.image, *args)
        return name

    def inspect(self, name: str) -> dict:
        return json.loads(self.daemon.cli("inspect", name).stdout)[0]

    def wait_for_log(self, name: str, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            logs = self.daemon.cli("logs", name, check=False).stdout
            if text in logs:
                return logs
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared in the logs of {name}: {logs!r}")
            time.sleep(0.1)

    def wait_exit(self, name: str, timeout: float = 30) -> int:
        out = self.daemon.cli("wait", name, timeout=timeout).stdout
        return int(out.strip())

    def remove_all(self) -> None:
        existing = self.daemon.cli("ps", "-aq", "--filter", f"name={self.prefix}-",
                                   check=False).stdout.split()
        if existing:
            self.daemon.cli("rm", "-f", *existing, check=False)


@pytest.fixture
def docker(dockerd: Dockerd, docker_busybox_image: str, runtime: str,
           container_id: str) -> Iterator[Docker]:
    d = Docker(dockerd, docker_busybox_image, runtime, container_id)
    try:
        yield d
    finally:
        d.remove_all()


def runtime_binary(dockerd: Dockerd, runtime: str) -> str:
    return "runc" if runtime == "runc" else str(dockerd.runtime_wrapper)


def runtime_root_of(dockerd: Dockerd, full_id: str) -> Path | None:
    """The ``--root`` dockerd gave the runtime for this container, found by its state dir.

    dockerd 20.10 passes ``<exec-root>/runtime-runc/<containerd namespace>`` to every
    runc-compatible runtime, extra ones included, so it is searched, not assumed.
    """
    for top in dockerd.exec_root.glob("runtime-*/*"):
        if (top / full_id).is_dir():
            return top
    return None


def runtime_state(dockerd: Dockerd, runtime: str, container: str) -> dict:
    """Ask the runtime itself (not docker) for the container's OCI state.

    The runtime's container id is docker's full container id. The other runtime must
    not be able to read that container: it proves which runtime made it.
    """
    full_id = json.loads(dockerd.cli("inspect", container).stdout)[0]["Id"]
    root = runtime_root_of(dockerd, full_id)
    assert root is not None, f"no state dir of {full_id} under {dockerd.exec_root}"
    out = subprocess.run([runtime_binary(dockerd, runtime), "--root", str(root), "state",
                          full_id], capture_output=True, text=True, timeout=60, env=dockerd.env)
    assert out.returncode == 0, (
        f"{runtime} does not know docker's container {full_id} under {root}: {out.stderr}")
    other = "runc" if runtime != "runc" else "dockyard"
    foreign = subprocess.run([runtime_binary(dockerd, other), "--root", str(root), "state",
                              full_id], capture_output=True, text=True, timeout=60,
                             env=dockerd.env)
    assert foreign.returncode != 0 or json.loads(foreign.stdout).get("status") != "running", \
        f"{other} claims {runtime}'s container: {foreign.stdout}"
    return json.loads(out.stdout)


# --- plain run ---------------------------------------------------------------------

def test_plain_run_output_and_exit_code(docker: Docker):
    out = docker.run("sh", "-c", "echo hello from $(hostname); echo oops >&2; exit 3")
    assert out.returncode == 3, out.stderr
    assert out.stdout.startswith("hello from "), out
    assert "oops" in out.stderr and "oops" not in out.stdout


def test_plain_run_is_pid_1_with_image_env(docker: Docker):
    out = docker.run("sh", "-c", "echo $$; echo $PATH; cat /proc/1/cmdline | tr '\\0' ' '",
                     check=True)
    pid, path, cmdline = out.stdout.splitlines()
    assert pid == "1"
    assert "/bin" in path.split(":")
    assert cmdline.startswith("sh -c ")


def test_run_really_uses_the_runtime(docker: Docker, dockerd: Dockerd):
    """The runtime's own `state` knows docker's container: dockerd did call it."""
    name = docker.run_detached("sleep", "1000")
    state = runtime_state(dockerd, docker.runtime, name)
    assert state["status"] == "running"
    assert state["pid"] == docker.inspect(name)["State"]["Pid"]
    dockerd.cli("rm", "-f", name)


def test_no_runtime_state_left_after_rm(docker: Docker, dockerd: Dockerd):
    name = docker.run_detached("sleep", "1000")
    full_id = docker.inspect(name)["Id"]
    assert runtime_state(dockerd, docker.runtime, name)["status"] == "running"
    root = runtime_root_of(dockerd, full_id)
    dockerd.cli("rm", "-f", name)
    assert root is not None and not (root / full_id).exists(), \
        f"{docker.runtime} left its state dir {root / full_id} behind"


# --- -it with a terminal ---------------------------------------------------------

def test_interactive_tty(docker: Docker, dockerd: Dockerd):
    name = docker.name()
    session = PtySession.spawn(
        [DOCKER_CLI, "-H", dockerd.host, "run", "--rm", "-it", "--runtime", docker.runtime,
         "--network", "none", "--name", name, docker.image, "sh"],
        env=dockerd.env, rows=33, cols=101)
    try:
        session.expect("# ", timeout=60)
        session.send("tty; stty size; echo ans=$((6*7))\r")
        out = session.expect("ans=42")
        assert "/dev/pts/0" in out, out
        assert "33 101" in out, out
        # Ctrl-C reaches the container's shell through the terminal, not docker.
        session.send("sleep 100\r")
        time.sleep(0.5)
        session.send("\x03")
        session.expect("# ", timeout=20)
        session.send("echo after-interrupt\r")
        session.expect("after-interrupt\r\n")
        session.send("exit 5\r")
        assert session.wait(timeout=60) == 5, session.output()
    finally:
        session.close()


# --- exec ---------------------------------------------------------------------------

def test_exec(docker: Docker, dockerd: Dockerd):
    name = docker.run_detached("sleep", "1000")
    out = dockerd.cli("exec", name, "sh", "-c", "echo exec-ok; cat /proc/1/cmdline")
    assert out.stdout.startswith("exec-ok\nsleep"), out.stdout
    assert dockerd.cli("exec", name, "sh", "-c", "exit 7", check=False).returncode == 7
    out = dockerd.cli("exec", "-u", "1000:1000", "-w", "/tmp", "-e", "FOO=bar", name,
                      "sh", "-c", "id -u; id -g; pwd; echo $FOO")
    assert out.stdout.split() == ["1000", "1000", "/tmp", "bar"]
    # A tty for exec: the process's stdin is a pty inside the container.
    out = dockerd.cli("exec", "-t", name, "tty")
    assert out.stdout.strip().startswith("/dev/pts/"), out.stdout
    # The exec'd process joined the container: same pid namespace and cgroup as pid 1.
    out = dockerd.cli("exec", name, "sh", "-c",
                      "readlink /proc/1/ns/pid; readlink /proc/self/ns/pid; "
                      "cat /proc/1/cgroup; echo ==; cat /proc/self/cgroup")
    ns1, ns2, rest = out.stdout.split("\n", 2)
    assert ns1 == ns2, out.stdout
    cg1, cg2 = rest.split("==\n")
    assert cg1 == cg2, out.stdout
    # Exec against a stopped container fails cleanly.
    dockerd.cli("stop", "-t", "1", name)
    assert dockerd.cli("exec", name, "true", check=False).returncode != 0


# --- stop and kill -------------------------------------------------------------------

TRAP_TERM = 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 1 & wait; done'


def test_stop_delivers_sigterm(docker: Docker, dockerd: Dockerd):
    name = docker.run_detached("sh", "-c", TRAP_TERM)
    docker.wait_for_log(name, "ready")
    t0 = time.monotonic()
    dockerd.cli("stop", "-t", "10", name)
    took = time.monotonic() - t0
    state = docker.inspect(name)["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 0, state
    assert took < 8, f"stop took {took:.1f}s: SIGTERM did not reach the trap"
    assert "got-term" in dockerd.cli("logs", name).stdout


def test_stop_escalates_to_sigkill(docker: Docker, dockerd: Dockerd):
    # As pid 1 with no handler, sleep ignores SIGTERM: stop must fall back to SIGKILL.
    name = docker.run_detached("sleep", "1000")
    t0 = time.monotonic()
    dockerd.cli("stop", "-t", "1", name)
    took = time.monotonic() - t0
    state = docker.inspect(name)["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 137, state
    assert 0.9 < took < 10, took


def test_kill(docker: Docker, dockerd: Dockerd):
    name = docker.run_detached("sleep", "1000")
    dockerd.cli("kill", name)
    assert docker.wait_exit(name) == 137
    assert docker.inspect(name)["State"]["Status"] == "exited"


def test_kill_with_signal(docker: Docker, dockerd: Dockerd):
    name = docker.run_detached(
        "sh", "-c", 'trap "echo got-usr1; exit 9" USR1; echo ready; '
                    'while :; do sleep 1 & wait; done')
    docker.wait_for_log(name, "ready")
    dockerd.cli("kill", "-s", "USR1", name)
    assert docker.wait_exit(name) == 9
    assert "got-usr1" in dockerd.cli("logs", name).stdout


# --- resources --------------------------------------------------------------------

def host_cgroup(docker: Docker, name: str, controller: str) -> Path:
    """The container's cgroup directory on the host (dockerd's cgroupfs driver)."""
    full_id = docker.inspect(name)["Id"]
    pid = docker.inspect(name)["State"]["Pid"]
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            assert full_id in path, f"{controller} cgroup {path} is not docker's"
            return Path("/sys/fs/cgroup") / controller / path.lstrip("/")
    raise AssertionError(f"no {controller} cgroup for pid {pid}")


def test_memory_limit(docker: Docker, dockerd: Dockerd):
    opts = ("-m", "48m", "--memory-swap", "48m")
    out = docker.run("cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", opts=opts,
                     check=True)
    assert out.stdout.strip() == str(48 * 1024 * 1024)
    # Enforced: a pipeline that holds 200 MiB in one process is OOM-killed ...
    hog = "head -c 200m /dev/zero | tail -n 1 >/dev/null"
    assert docker.run("sh", "-c", hog, opts=opts).returncode != 0
    # ... while the same under the limit runs.
    small = "head -c 8m /dev/zero | tail -n 1 >/dev/null"
    assert docker.run("sh", "-c", small, opts=opts).returncode == 0
    name = docker.run_detached("sleep", "1000", opts=opts)
    cg = host_cgroup(docker, name, "memory")
    assert (cg / "memory.limit_in_bytes").read_text().strip() == str(48 * 1024 * 1024)
    dockerd.cli("rm", "-f", name)
    assert not cg.exists(), f"{cg} left behind after docker rm"


def test_cpus(docker: Docker, dockerd: Dockerd):
    out = docker.run("sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
                     "/sys/fs/cgroup/cpu/cpu.cfs_period_us", opts=("--cpus", "0.5"),
                     check=True)
    assert out.stdout.split() == ["50000", "100000"]
    name = docker.run_detached("sleep", "1000", opts=("--cpus", "1.5"))
    cg = host_cgroup(docker, name, "cpu")
    assert (cg / "cpu.cfs_quota_us").read_text().strip() == "150000"
    dockerd.cli("rm", "-f", name)


def test_pids_limit(docker: Docker):
    out = docker.run("cat", "/sys/fs/cgroup/pids/pids.max", opts=("--pids-limit", "12"),
                     check=True)
    assert out.stdout.strip() == "12"
    # Enforced: 30 background sleeps cannot all start under a limit of 12.
    # ash gives up at the first failed fork; each started sleep is counted first.
    out = docker.run("sh", "-c", "for i in $(seq 30); do sleep 30 & echo $i; done",
                     opts=("--pids-limit", "12"))
    assert "can't fork" in out.stderr, out
    started = int(out.stdout.split()[-1])
    assert 5 <= started < 12, out.stdout


# --- process identity and privileges --------------------------------------------

def test_user(docker: Docker):
    out = docker.run("sh", "-c", "id -u; id -g; id -G; grep -E '^(Uid|Gid):' /proc/self/status",
                     opts=("-u", "1000:100", "--group-add", "5"), check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "1000" and lines[1] == "100"
    assert set(lines[2].split()) == {"100", "5"}, lines[2]
    assert lines[3].split()[1:] == ["1000"] * 4
    assert lines[4].split()[1:] == ["100"] * 4
    # A name is resolved from the image's /etc/passwd.
    out = docker.run("id", "-u", opts=("-u", "nobody"), check=True)
    assert out.stdout.strip() == "65534"
    # Not root: the effective capability set is empty.
    out = docker.run("grep", "CapEff", "/proc/self/status", opts=("-u", "1000"), check=True)
    assert int(out.stdout.split()[1], 16) == 0


def caps_mask(names: Iterable[str]) -> int:
    return sum(1 << DOCKER_DEFAULT_CAPS[n] for n in names)


def test_cap_drop(docker: Docker):
    fields = "grep -E '^Cap(Prm|Eff|Bnd|Amb):' /proc/self/status"
    out = docker.run("sh", "-c", fields, check=True)
    caps = {ln.split(":")[0]: int(ln.split()[1], 16) for ln in out.stdout.splitlines()}
    default = caps_mask(DOCKER_DEFAULT_CAPS)
    assert caps == {"CapPrm": default, "CapEff": default, "CapBnd": default, "CapAmb": 0}, \
        {k: hex(v) for k, v in caps.items()}

    out = docker.run("sh", "-c", fields, opts=("--cap-drop", "CHOWN", "--cap-drop", "NET_RAW"),
                     check=True)
    caps = {ln.split(":")[0]: int(ln.split()[1], 16) for ln in out.stdout.splitlines()}
    dropped = default & ~caps_mask(["CHOWN", "NET_RAW"])
    assert caps["CapEff"] == dropped and caps["CapBnd"] == dropped, \
        {k: hex(v) for k, v in caps.items()}
    # Enforced: chown needs CAP_CHOWN.
    out = docker.run("sh", "-c", "touch /tmp/f && chown 1000 /tmp/f",
                     opts=("--cap-drop", "CHOWN"))
    assert out.returncode != 0 and "Operation not permitted" in out.stderr, out
    out = docker.run("sh", "-c", "touch /tmp/f && chown 1000 /tmp/f")
    assert out.returncode == 0, out.stderr


def test_read_only(docker: Docker):
    out = docker.run("sh", "-c", "touch /newfile", opts=("--read-only",))
    assert out.returncode != 0 and "Read-only file system" in out.stderr, out
    out = docker.run("sh", "-c", "awk '$2 == \"/\" {print $4}' /proc/mounts",
                     opts=("--read-only",), check=True)
    assert out.stdout.split(",")[0] == "ro", out.stdout
    # A tmpfs asked for on top stays writable.
    out = docker.run("sh", "-c", "touch /tmp/x && echo wrote", opts=("--read-only", "--tmpfs",
                                                                     "/tmp"))
    assert out.stdout.strip() == "wrote", out
    # Without --read-only the root is writable.
    assert docker.run("touch", "/newfile").returncode == 0


# --- the docker-visible results match runc's ------------------------------------

def test_same_view_as_runc(dockerd: Dockerd, docker_busybox_image: str, container_id: str):
    """What a container sees of itself (mounts, devices, limits, ids) is the same."""
    probe = ("cat /proc/self/status | grep -E '^(Cap|NoNewPrivs|Seccomp:|Uid|Gid)'; "
             "awk '{print $2, $3}' /proc/mounts | sort; ls /dev | sort; hostname; "
             "cat /proc/self/oom_score_adj; ulimit -n; umask")
    views: dict[str, str] = {}
    for rt in RUNTIMES:
        out = dockerd.cli("run", "--rm", "--runtime", rt, "--network", "none",
                          "--hostname", "same", "--name", f"{container_id}-{rt}",
                          docker_busybox_image, "sh", "-c", probe)
        views[rt] = out.stdout
    assert views["dockyard"].splitlines() == views["runc"].splitlines()

