import socket

import pytest

from dockyard.errors import Conflict, InvalidArgument, Unavailable
from dockyard.network.ports import ephemeral_range, reserve, reserve_ephemeral


def test_reserved_port_is_held_until_closed():
    with reserve_ephemeral("127.0.0.1") as r:
        with pytest.raises(Conflict, match=f"Bind for 127.0.0.1:{r.port} failed: port is "
                                           "already allocated"):
            reserve("127.0.0.1", r.port)
        probe = socket.socket()
        with pytest.raises(OSError):
            probe.bind(("127.0.0.1", r.port))
        probe.close()
    reserve("127.0.0.1", r.port).close()


def test_port_taken_by_another_program_is_conflict():
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(Conflict, match="already allocated"):
            reserve("127.0.0.1", other.getsockname()[1])
    finally:
        other.close()


def test_tcp_and_udp_are_separate():
    with reserve_ephemeral("127.0.0.1", "tcp") as t:
        reserve("127.0.0.1", t.port, "udp").close()


def test_ephemeral_skips_taken_ports():
    with reserve_ephemeral("127.0.0.1") as first:
        rng = (first.port, first.port + 50)
        with reserve_ephemeral("127.0.0.1", port_range=rng) as second:
            assert second.port > first.port


def test_exhausted_range_is_unavailable():
    with reserve_ephemeral("127.0.0.1") as r, pytest.raises(Unavailable):
        reserve_ephemeral("127.0.0.1", port_range=(r.port, r.port))


@pytest.mark.parametrize("port,proto", [(0, "tcp"), (70000, "tcp"), (80, "sctp")])
def test_bad_requests(port, proto):
    with pytest.raises(InvalidArgument):
        reserve("127.0.0.1", port, proto)


def test_ephemeral_range_reads_proc_or_falls_back(tmp_path):
    f = tmp_path / "r"
    f.write_text("32768\t60999\n")
    assert ephemeral_range(f) == (32768, 60999)
    assert ephemeral_range(tmp_path / "none") == (49153, 60999)
