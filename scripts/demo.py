"""The main job: a real container workload on dockyard, end to end.

1. Make a busybox image from the host's static busybox (no registry needed) with
   ``dockyard image bootstrap busybox`` and list it with ``dockyard images``.
2. Give a container its own writable overlay snapshot on top of the image's layers.
3. Generate an OCI bundle with ``dockyard-runtime spec``, point it at a web server
   (busybox httpd serving a page written into the container), and run it detached
   with ``dockyard-runtime run -d``: new pid, mount, uts, ipc and cgroup namespaces, a
   memory and pids limit, docker's default capabilities.
4. Fetch the page from the host, show ``dockyard-runtime ps``, then stop and remove
   everything: container, cgroup, mount, snapshot, temp dirs.

Networking arrives with the network issue; until then the container shares the
host's network namespace and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    local = BIN / name
    return str(local) if local.exists() else name


def sh(*cmd: str, check: bool = True, log: Path | None = None) -> subprocess.CompletedProcess:
    """Run a command and show it. ``log``: where a detached container's stdio goes
    (it must not inherit our pipes, or reading them would wait for it to exit)."""
    print("$", " ".join(cmd), flush=True)
    if log is not None:
        with open(log, "ab") as out:
            result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=out, text=True)
    else:
        result = subprocess.run(cmd, text=True, capture_output=True)
    if result.stdout:
        print(result.stdout.rstrip(), flush=True)
    if check and result.returncode != 0:
        detail = log.read_text() if log is not None else result.stderr
        raise SystemExit(f"demo: {' '.join(cmd)} failed ({result.returncode}): "
                         f"{detail.strip()}")
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_config(bundle: Path, port: int, container_id: str) -> None:
    sh(tool("dockyard-runtime"), "spec", "--bundle", str(bundle))
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"]
    config["hostname"] = "dockyard-demo"
    linux = config.setdefault("linux", {})
    # Share the host's network until dockyard's networking lands (the network issue).
    linux["namespaces"] = [ns for ns in linux.get("namespaces", [])
                           if ns.get("type") != "network"]
    linux["cgroupsPath"] = f"/dockyard-demo/{container_id}"
    linux.setdefault("resources", {}).update(
        {"memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 64}})
    config_path.write_text(json.dumps(config, indent=2))


def main() -> int:
    from dockyard.image import mount_all, unmount
    from dockyard.image.service import ImageService

    root = os.environ.get("DOCKYARD_ROOT", "/var/lib/dockyard")
    sh(tool("dockyard"), "--data-root", root, "image", "bootstrap", "busybox",
       "--tag", "busybox:latest")
    sh(tool("dockyard"), "--data-root", root, "images")

    service = ImageService(root)
    record = service.store.resolve("busybox:latest")
    top = service.after_pull(record)
    container_id = f"demo-{uuid.uuid4().hex[:12]}"
    key = f"container-{container_id}"
    work = Path(tempfile.mkdtemp(prefix="dockyard-demo-"))
    state_root = work / "state"
    bundle = work / "bundle"
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True)
    mounts = service.snapshotter.prepare(key, top)
    started = False
    try:
        mount_all(mounts, rootfs)
        try:
            port = free_port()
            (rootfs / "www").mkdir()
            (rootfs / "www" / "index.html").write_text(
                "<h1>Hello from a dockyard container</h1>\n")
            make_config(bundle, port, container_id)
            runtime = [tool("dockyard-runtime"), "--root", str(state_root)]
            sh(*runtime, "run", "-d", "--bundle", str(bundle), container_id,
               log=work / "container.log")
            started = True
            page = fetch(f"http://127.0.0.1:{port}/")
            print(f"GET http://127.0.0.1:{port}/ ->\n{page.strip()}", flush=True)
            sh(*runtime, "ps", container_id)
            sh(*runtime, "state", container_id)
            if "Hello from a dockyard container" not in page:
                raise SystemExit("demo: the container served the wrong page")
        finally:
            if started:
                sh(*runtime, "delete", "--force", container_id, check=False)
            unmount(rootfs, mounts)
    finally:
        service.snapshotter.remove(key)
        service.close()
        shutil.rmtree(work, ignore_errors=True)
    print("demo: ok - image built, container served a page, everything removed", flush=True)
    return 0


def fetch(url: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError as e:
            last = e
            time.sleep(0.1)
    raise SystemExit(f"demo: the web server container did not answer at {url}: {last}")


if __name__ == "__main__":
    sys.exit(main())
