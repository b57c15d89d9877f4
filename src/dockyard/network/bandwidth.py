"""Per-container bandwidth limits with tc on the host end of the container's veth.

Directions are the container's: *egress* is what it sends, *ingress* what it
receives. Both are shaped on the host-side veth, so nothing is needed inside the
container and the limits go away with the veth:
- ingress (host veth transmits toward the container): a ``tbf`` root qdisc, a real
  shaper with a queue, so TCP toward the container slows smoothly;
- egress (host veth receives from the container): received traffic cannot be
  queued, so an ``ingress`` qdisc redirects it (``u32`` match-all + ``mirred``) to an
  ifb link of its own, whose ``tbf`` root qdisc shapes it like the other direction.
  Policing (``act_police``) would need no ifb, but it drops instead of queueing and is
  not built into every kernel (this project's CI kernel lacks it, and ``matchall``).
  The ifb is one more link per container: it is named like the veth (``names.ifb_name``)
  and ``clear_limits`` deletes it; the daemon calls it when the endpoint goes.

Option shape (``--network-rate``): ``egress=10mbit,ingress=50mbit[,burst=64kb]``,
with tc's units: bit kbit mbit gbit (bits per second), bps kbps mbps gbps (bytes per
second); burst in b, kb, mb.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from dockyard.errors import InvalidArgument, SystemError_, Unavailable
from dockyard.network.names import check_ifname, link_exists

__all__ = ["RateLimit", "apply_limits", "clear_limits", "parse_network_rate", "parse_rate"]

_RATE_UNITS = {"bit": 1, "kbit": 1000, "mbit": 10**6, "gbit": 10**9,
               "bps": 8, "kbps": 8000, "mbps": 8 * 10**6, "gbps": 8 * 10**9}
_SIZE_UNITS = {"b": 1, "kb": 1024, "k": 1024, "mb": 1024**2, "m": 1024**2}
_NUM = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")
MIN_RATE = 8000  # 1 kB/s: below this tc's arithmetic misbehaves


@dataclass(frozen=True)
class RateLimit:
    """Bits per second each way (None: unlimited); burst in bytes (None: automatic)."""

    egress: int | None = None
    ingress: int | None = None
    burst: int | None = None

    def burst_for(self, rate: int) -> int:
        # 20 ms worth of traffic, never below a few jumbo frames
        return self.burst or max(rate // 8 // 50, 64 * 1024)


def parse_rate(text: str) -> int:
    m = _NUM.match(text)
    unit = (m.group(2).lower() or "bit") if m else ""
    if not m or unit not in _RATE_UNITS:
        raise InvalidArgument(f"invalid rate {text!r}: want e.g. 10mbit, 500kbit, 2mbps")
    rate = int(float(m.group(1)) * _RATE_UNITS[unit])
    if rate < MIN_RATE:
        raise InvalidArgument(f"rate {text!r} is below the minimum of 8kbit")
    return rate


def _parse_size(text: str) -> int:
    m = _NUM.match(text)
    unit = (m.group(2).lower() or "b") if m else ""
    if not m or unit not in _SIZE_UNITS:
        raise InvalidArgument(f"invalid burst {text!r}: want e.g. 64kb")
    size = int(float(m.group(1)) * _SIZE_UNITS[unit])
    if size < 1500:
        raise InvalidArgument(f"burst {text!r} is smaller than one packet (1500 bytes)")
    return size


def parse_network_rate(text: str) -> RateLimit:
    """``egress=10mbit,ingress=50mbit,burst=64kb`` (any subset, at least one rate)."""
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in ("egress", "ingress", "burst") or key in fields:
            raise InvalidArgument(f"invalid --network-rate {text!r}: want "
                                  "egress=RATE,ingress=RATE[,burst=SIZE]")
        fields[key] = value
    if "egress" not in fields and "ingress" not in fields:
        raise InvalidArgument(f"invalid --network-rate {text!r}: give egress= or ingress=")
    return RateLimit(
        egress=parse_rate(fields["egress"]) if "egress" in fields else None,
        ingress=parse_rate(fields["ingress"]) if "ingress" in fields else None,
        burst=_parse_size(fields["burst"]) if "burst" in fields else None)


def _tc(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    tc = shutil.which("tc")
    if tc is None:
        raise Unavailable("the tc command is not installed (Debian package iproute2)")
    proc = subprocess.run([tc, *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise SystemError_(f"tc {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def _tbf(dev: str, rate: int, limit: RateLimit) -> list[str]:
    return ["qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{rate}bit",
            "burst", str(limit.burst_for(rate)), "latency", "50ms"]


def tc_commands(ifname: str, limit: RateLimit, ifb: str | None = None) -> list[list[str]]:
    """The tc invocations that install ``limit`` on ``ifname`` (after a clear)."""
    check_ifname(ifname)
    cmds = []
    if limit.ingress:
        cmds.append(_tbf(ifname, limit.ingress, limit))
    if limit.egress:
        if ifb is None:
            raise InvalidArgument("an egress limit needs an ifb link name")
        check_ifname(ifb)
        cmds.append(["qdisc", "add", "dev", ifname, "handle", "ffff:", "ingress"])
        cmds.append(["filter", "add", "dev", ifname, "parent", "ffff:", "protocol", "all",
                     "u32", "match", "u32", "0", "0",
                     "action", "mirred", "egress", "redirect", "dev", ifb])
        cmds.append(_tbf(ifb, limit.egress, limit))
    return cmds


def _ip(*args: str, check: bool = True) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise SystemError_(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def clear_limits(ifname: str, ifb: str | None = None) -> None:
    """Back to the default qdiscs and no ifb; missing pieces are not an error."""
    check_ifname(ifname)
    _tc("qdisc", "del", "dev", ifname, "root", check=False)
    _tc("qdisc", "del", "dev", ifname, "ingress", check=False)
    if ifb is not None:
        check_ifname(ifb)
        if link_exists(ifb):
            _ip("link", "del", ifb)


def apply_limits(ifname: str, limit: RateLimit, ifb: str | None = None) -> None:
    """Replace whatever limits ``ifname`` had with ``limit``; all or nothing.

    ``ifb`` names the link that shapes the container's egress (needed only then).
    """
    cmds = tc_commands(ifname, limit, ifb)
    clear_limits(ifname, ifb)
    try:
        if limit.egress and ifb is not None:
            _ip("link", "add", ifb, "type", "ifb")
            _ip("link", "set", ifb, "up")
        for c in cmds:
            _tc(*c)
    except BaseException:
        clear_limits(ifname, ifb)
        raise
