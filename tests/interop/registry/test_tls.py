"""``registry serve --tls-cert/--tls-key``: skopeo verifies our certificate
against its CA and copies over HTTPS; without the CA it refuses."""

from __future__ import annotations

import http.client
import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.interop.registry.peers import dockyard_registry, run
from tests.unit.registry.images import busybox_tar, make_image, write_oci_layout


def _self_signed(d: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (openssl: Debian package ``openssl``)."""
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_tls_serving_with_verified_certificate(tmp_path: Path):
    cert, key = _self_signed(tmp_path)
    certs = tmp_path / "certs.d"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(cert.read_bytes())
    img = make_image([busybox_tar()])
    layout = write_oci_layout(img, tmp_path / "layout", "v1")
    with dockyard_registry(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key)) as reg:
        untrusted = run(["skopeo", "inspect", f"docker://{reg.host}/none:v1"], check=False)
        assert untrusted.returncode != 0 and "certificate" in untrusted.stderr
        run(["skopeo", "copy", "--dest-cert-dir", str(certs), f"oci:{layout}:v1",
             f"docker://{reg.host}/tls/bb:v1"])
        info = json.loads(run(["skopeo", "inspect", "--cert-dir", str(certs),
                               f"docker://{reg.host}/tls/bb:v1"]).stdout)
        assert info["Digest"] == img.digest
        # No plain HTTP on a TLS port.
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://{reg.host}/v2/", timeout=10).close()
