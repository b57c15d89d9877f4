"""sysctl keys are only allowed where a namespace isolates them (as runc)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.rootfs import sysctl


@pytest.mark.parametrize("key,needs", [
    ("net.ipv4.ip_forward", "network"),
    ("net/ipv4/conf/eth0.100/forwarding", "network"),
    ("kernel.shmmax", "ipc"), ("kernel.msgmnb", "ipc"), ("kernel.sem", "ipc"),
    ("kernel.shm_rmid_forced", "ipc"), ("fs.mqueue.msg_max", "ipc"),
    ("kernel.hostname", "uts"), ("kernel.domainname", "uts"),
])
def test_namespaced_keys_need_their_namespace(key: str, needs: str) -> None:
    sysctl.validate({key: "1"}, frozenset({needs}))
    others = frozenset({"network", "ipc", "uts"} - {needs})
    with pytest.raises(InvalidArgument, match=f"needs a {needs} namespace"):
        sysctl.validate({key: "1"}, others)


@pytest.mark.parametrize("key", ["vm.swappiness", "kernel.pid_max", "fs.file-max",
                                 "kernel.shmmaxx"])
def test_host_wide_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidArgument, match="not in a separate kernel namespace"):
        sysctl.validate({key: "1"}, frozenset({"network", "ipc", "uts"}))


@pytest.mark.parametrize("key", ["net..x", "net/../../etc", "net.a b", ""])
def test_malformed_keys(key: str) -> None:
    with pytest.raises(InvalidArgument):
        sysctl.validate({key: "1"}, frozenset({"network"}))


def test_values_must_be_strings() -> None:
    with pytest.raises(InvalidArgument, match="must be a string"):
        sysctl.validate({"net.ipv4.ip_forward": 1}, frozenset({"network"}))


def test_key_paths() -> None:
    assert sysctl.key_path("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward"
    assert sysctl.key_path("net/ipv4/conf/eth0.100/forwarding") == \
        "/proc/sys/net/ipv4/conf/eth0.100/forwarding"


def test_apply_writes_values(tmp_path: Path) -> None:
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "shmmax").write_text("0")
    sysctl.apply({"kernel.shmmax": "42"}, proc_sys=str(tmp_path))
    assert (tmp_path / "kernel" / "shmmax").read_text() == "42"
    with pytest.raises(OSError, match=r"sysctl kernel\.sem"):
        sysctl.apply({"kernel.sem": "1"}, proc_sys=str(tmp_path))
