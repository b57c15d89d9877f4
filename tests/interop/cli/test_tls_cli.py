"""``dockyard --tlsverify -H tcp://...``: a client certificate signed by the daemon's
CA gets in (also through $DOCKYARD_TLS_VERIFY/$DOCKYARD_CERT_PATH); none or a
stranger's does not, with a message that says why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.cli.clid import POOL
from tests.integration.daemon.harness import running_daemon, short_workdir
from tests.interop.daemon.test_tls import free_port, make_ca, make_cert


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


def dockyard(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("DOCKYARD_HOST", "DOCKYARD_TLS", "DOCKYARD_CERT"))}
    return subprocess.run([sys.executable, "-m", "dockyard.cli.main", *args],
                          capture_output=True, text=True, env={**base, **(env or {})},
                          timeout=60)


def test_tlsverify_client(tmp_path_factory, pki):
    work = short_workdir(tmp_path_factory, "ctls")
    (work / "daemon.json").write_text(json.dumps(POOL))
    port = free_port()
    host = f"tcp://127.0.0.1:{port}"
    with running_daemon(work, "-H", host, "--tlsverify", "--tlscacert",
                        str(pki / "ca.pem"), "--tlscert", str(pki / "server.pem"),
                        "--tlskey", str(pki / "server-key.pem")):
        ok = dockyard("-H", host, "--tlsverify", "--tlscacert", str(pki / "ca.pem"),
                      "--tlscert", str(pki / "client.pem"), "--tlskey",
                      str(pki / "client-key.pem"), "version", "-f", "{{.Server.ApiVersion}}")
        assert (ok.returncode, ok.stdout) == (0, "1.41\n"), ok.stderr
        certs = pki / "certdir"
        certs.mkdir()
        for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"),
                         ("client-key.pem", "key.pem")):
            shutil.copy(pki / src, certs / dst)
        ok = dockyard("volume", "ls", "-q", env={"DOCKYARD_HOST": host,
                                                 "DOCKYARD_TLS_VERIFY": "1",
                                                 "DOCKYARD_CERT_PATH": str(certs)})
        assert ok.returncode == 0, ok.stderr
        for who in (None, "stranger"):
            args = ["-H", host, "--tlsverify", "--tlscacert", str(pki / "ca.pem")]
            if who:
                args += ["--tlscert", str(pki / f"{who}.pem"), "--tlskey",
                         str(pki / f"{who}-key.pem")]
            denied = dockyard(*args, "ps")
            assert denied.returncode == 1, who
            assert denied.stdout == ""
            assert denied.stderr.startswith("Error: error during connect:"), denied.stderr
        plain = dockyard("-H", host, "ps")   # no TLS against a TLS port
        assert plain.returncode == 1
        assert "does it want TLS? (--tls/--tlsverify)" in plain.stderr, plain.stderr
