"""``dockyardd -H tcp://... --tlsverify``: the docker CLI with a client certificate
signed by the daemon's CA gets in; without one, or with a stranger's, it does not."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.integration.daemon.harness import running_daemon, short_workdir

pytestmark = pytest.mark.interop

DOCKER = "/usr/bin/docker"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d: Path, name: str) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            f"/CN={name}", "-keyout", f"{name}-key.pem", "-out", f"{name}.pem", cwd=d)


def make_cert(d: Path, ca: str, name: str, ext: str) -> None:
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout",
            f"{name}-key.pem", "-out", f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
            f"{ca}-key.pem", "-CAcreateserial", "-days", "1", "-out", f"{name}.pem",
            "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    if not shutil.which("openssl"):
        pytest.fail("openssl is missing: apt-get install openssl")
    make_ca(tmp_path, "ca")
    make_cert(tmp_path, "ca", "server", "subjectAltName=IP:127.0.0.1\n"
              "extendedKeyUsage=serverAuth\n")
    make_cert(tmp_path, "ca", "client", "extendedKeyUsage=clientAuth\n")
    make_ca(tmp_path, "other")
    make_cert(tmp_path, "other", "stranger", "extendedKeyUsage=clientAuth\n")
    return tmp_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker(host: str, pki: Path, client: str | None, *args: str
           ) -> subprocess.CompletedProcess:
    tls = ["--tlsverify", "--tlscacert", str(pki / "ca.pem")]
    if client:
        tls += ["--tlscert", str(pki / f"{client}.pem"), "--tlskey",
                str(pki / f"{client}-key.pem")]
    env = {**os.environ, "DOCKER_CONFIG": str(pki / "docker-config")}
    env.pop("DOCKER_HOST", None)
    return subprocess.run([DOCKER, "-H", host, *tls, *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_tlsverify_admits_only_clients_signed_by_the_ca(tmp_path_factory, pki):
    if not shutil.which(DOCKER):
        pytest.fail(f"{DOCKER} is missing: apt-get install docker.io")
    work = short_workdir(tmp_path_factory, "tls")
    port = free_port()
    with running_daemon(work, "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
                        "--tlscacert", str(pki / "ca.pem"), "--tlscert",
                        str(pki / "server.pem"), "--tlskey", str(pki / "server-key.pem")) as d:
        host = f"tcp://127.0.0.1:{port}"
        ok = docker(host, pki, "client", "version", "--format", "{{.Server.APIVersion}}")
        assert ok.returncode == 0, ok.stderr + d.log_tail()
        assert ok.stdout.strip() == "1.41"
        for who in (None, "stranger"):
            denied = docker(host, pki, who, "version", "--format", "{{.Server.APIVersion}}")
            assert denied.returncode != 0, who
            assert "1.41" not in denied.stdout
        # the unix socket still answers without TLS
        assert d.request("GET", "/_ping").status == 200


def test_tls_flags_are_checked(tmp_path_factory, pki):
    import sys

    work = short_workdir(tmp_path_factory, "tlsbad")
    base = [sys.executable, "-m", "dockyard.daemon.main", "--config-file",
            str(work / "none.json"), "--validate"]
    out = subprocess.run([*base, "--tlsverify", "--tlscert", str(pki / "server.pem"),
                          "--tlskey", str(pki / "server-key.pem")],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "--tlscacert" in out.stderr
    out = subprocess.run([*base, "--tls"], capture_output=True, text=True)
    assert out.returncode == 1 and "--tlscert and --tlskey" in out.stderr
