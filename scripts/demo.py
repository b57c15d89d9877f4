"""The main job: a real container workload on dockyard, end to end, through its CLI.

1. Make a busybox image from the host's static busybox (no registry needed) with
   ``dockyard image bootstrap busybox``.
2. ``dockyard run -d -p 127.0.0.1:PORT:80 --memory 64m --pids-limit 64`` a web server
   container: the first container verb starts ``dockyardd`` when none answers; the
   container gets its own namespaces, cgroup, overlay rootfs, a veth on dockyard's
   default bridge and a published port (kernel DNAT in dockyard's nftables table).
3. Fetch the page from the host through the published port; show ``ps``, ``logs``,
   ``exec`` and ``stats``.
4. Remove the container, and stop the daemon again if this demo started it, so the
   machine is left as it was (the images stay).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
NAME = "dockyard-demo"
PAGE = "Hello from a dockyard container"
SOCKET = "/run/dockyard/dockyard.sock"
PIDFILE = "/run/dockyard/dockyardd.pid"


def tool(name: str) -> str:
    local = BIN / name
    return str(local) if local.exists() else name


def dockyard(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [tool("dockyard"), *args]
    print("$ dockyard", " ".join(args), flush=True)
    result = subprocess.run(cmd, text=True, capture_output=True, stdin=subprocess.DEVNULL)
    if result.stdout:
        print(result.stdout.rstrip(), flush=True)
    if check and result.returncode != 0:
        raise SystemExit(f"demo: dockyard {' '.join(args)} failed ({result.returncode}): "
                         f"{result.stderr.strip()}")
    return result


def daemon_answers() -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(SOCKET)
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.")
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stop_daemon() -> None:
    try:
        pid = int(Path(PIDFILE).read_text())
    except (OSError, ValueError):
        return
    print(f"$ kill -TERM {pid}   # the dockyardd this demo started", flush=True)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise SystemExit(f"demo: dockyardd {pid} did not stop")


def main() -> int:
    started_daemon = not daemon_answers()
    dockyard("image", "bootstrap", "busybox", "--tag", "busybox:latest")
    port = free_port()
    script = (f"mkdir -p /www && echo '<h1>{PAGE}</h1>' > /www/index.html "
              "&& echo serving && exec httpd -f -p 80 -h /www")
    try:
        dockyard("run", "-d", "--name", NAME, "-p", f"127.0.0.1:{port}:80",
                 "--memory", "64m", "--pids-limit", "64", "busybox", "sh", "-c", script)
        page = fetch(f"http://127.0.0.1:{port}/")
        print(f"GET http://127.0.0.1:{port}/ ->\n{page.strip()}", flush=True)
        if PAGE not in page:
            raise SystemExit("demo: the container served the wrong page")
        dockyard("ps", "--filter", f"name={NAME}")
        dockyard("logs", NAME)
        dockyard("exec", NAME, "cat", "/www/index.html")
        dockyard("stats", "--no-stream", NAME)
    finally:
        dockyard("rm", "-f", NAME, check=False)
        if started_daemon:
            stop_daemon()
    print("demo: ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
