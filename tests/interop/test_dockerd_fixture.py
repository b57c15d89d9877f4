"""The private dockerd fixture works: the other interop tests stand on it."""

from __future__ import annotations


def test_private_dockerd_runs_a_busybox_container(dockerd, docker_busybox_image):
    out = dockerd.cli("run", "--rm", "--network", "none", docker_busybox_image,
                      "echo", "hello from runc")
    assert out.stdout.strip() == "hello from runc"
