"""Parsing the units docker's flags take: sizes (``512m``), Go durations (``1m30s``),
CPU counts (``1.5``) and port specs (``127.0.0.1:8080:80/udp``).

Hand-written (no ``re``: it is on ``dockyard run``'s import path). Errors are
:class:`dockyard.cli.flags.FlagError` with docker's wording, so ``run`` exits 125.
"""

from __future__ import annotations

from dockyard.cli.flags import FlagError

_BINARY = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
           "p": 1 << 50}


def ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: ``512m`` -> 536870912 (binary multiples, optional i/b)."""
    s = text.strip()
    low = s.lower()
    num_end = 0
    while num_end < len(low) and (low[num_end].isdigit() or low[num_end] == "."):
        num_end += 1
    num, unit = low[:num_end], low[num_end:].strip()
    if unit.endswith("b"):
        unit = unit[:-1]
    if unit.endswith("i"):
        unit = unit[:-1]
    if not num or unit not in _BINARY or num.count(".") > 1:
        raise FlagError(f"invalid size: '{text}'")
    return int(float(num) * _BINARY[unit])


def mem_bytes(text: str, flag: str, allow_unlimited: bool = False) -> int:
    if allow_unlimited and text.strip() == "-1":
        return -1
    try:
        return ram_in_bytes(text)
    except FlagError as e:
        raise FlagError(f'invalid argument "{text}" for "{flag}" flag: {e.message}'
                        ) from None


_DUR = {"ns": 1, "us": 1000, "µs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
        "h": 3600 * 10**9}


def duration_ns(text: str, flag: str = "") -> int:
    """Go's time.ParseDuration: ``1m30s``, ``500ms``, ``2h``, ``0``."""
    s = text.strip()
    bad = FlagError(f'invalid argument "{text}" for "{flag}" flag: time: invalid '
                    f'duration "{text}"')
    if s in ("0", "+0", "-0"):
        return 0
    if not s:
        raise bad
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    total = 0
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and (s[j].isdigit() or s[j] == "."):
            j += 1
        if j == i:
            raise bad
        num = s[i:j]
        k = j
        while k < len(s) and not (s[k].isdigit() or s[k] == "."):
            k += 1
        unit = s[j:k]
        if unit not in _DUR:
            raise bad
        total += int(float(num) * _DUR[unit])
        i = k
    return sign * total


def nano_cpus(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise FlagError(f'invalid argument "{text}" for "--cpus" flag: failed to parse '
                        f'{text} as a rational number') from None
    nano = round(value * 1e9)
    if nano < 0:
        raise FlagError(f'invalid argument "{text}" for "--cpus" flag: cpus must be '
                        'positive')
    return nano


def _port_range(text: str, what: str) -> tuple[int, int]:
    lo, dash, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if dash else a
    except ValueError:
        raise FlagError(f"invalid {what}: {text}") from None
    if not (0 <= a <= 65535 and 0 <= b <= 65535) or b < a:
        raise FlagError(f"invalid {what}: {text}")
    return a, b


def parse_port_spec(spec: str) -> list[tuple[str, dict[str, str]]]:
    """``[ip:][hostPort:]containerPort[/proto]`` -> [("80/tcp", {"HostIp", "HostPort"})].

    Ranges expand one-to-one (``8000-8001:80-81``); a host range against one container
    port keeps the range as the HostPort (the daemon picks one), like docker.
    """
    proto = "tcp"
    body = spec
    if "/" in spec:
        body, _, proto = spec.rpartition("/")
        proto = proto.lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise FlagError(f"invalid proto: {proto}")
    ip = ""
    host_port = ""
    if body.startswith("["):   # [::1]:8080:80
        end = body.find("]")
        if end < 0:
            raise FlagError(f"invalid IP address: {body}")
        ip = body[1:end]
        rest = body[end + 1:].lstrip(":")
        host_port, _, container = rest.rpartition(":")
    else:
        parts = body.split(":")
        if len(parts) == 1:
            container = parts[0]
        elif len(parts) == 2:
            host_port, container = parts
        elif len(parts) == 3:
            ip, host_port, container = parts
        else:   # an IPv6 address without brackets
            container = parts[-1]
            host_port = parts[-2]
            ip = ":".join(parts[:-2])
    if not container:
        raise FlagError(f"no port specified: {spec}<empty>")
    c_lo, c_hi = _port_range(container, "containerPort")
    out: list[tuple[str, dict[str, str]]] = []
    if host_port:
        h_lo, h_hi = _port_range(host_port, "hostPort")
        if c_hi - c_lo != h_hi - h_lo and not (c_lo == c_hi):
            raise FlagError(f"invalid ranges specified for container and host Ports: "
                            f"{container} and {host_port}")
        if c_lo == c_hi and h_lo != h_hi:
            return [(f"{c_lo}/{proto}", {"HostIp": ip, "HostPort": host_port})]
        for n in range(c_hi - c_lo + 1):
            out.append((f"{c_lo + n}/{proto}", {"HostIp": ip, "HostPort": str(h_lo + n)}))
    else:
        for port in range(c_lo, c_hi + 1):
            out.append((f"{port}/{proto}", {"HostIp": ip, "HostPort": ""}))
    return out


__all__ = ["duration_ns", "mem_bytes", "nano_cpus", "parse_port_spec", "ram_in_bytes"]
