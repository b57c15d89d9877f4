"""``run``, ``create``, ``start``, ``attach`` and ``exec``: the verbs that stream.

``run`` follows the Docker CLI's order so nothing is lost or raced: create (pulling
the image on "No such image" like docker), attach (hijacked, before start, so the
first output is seen), wait (``removed`` with --rm, else ``next-exit``; its 200
header, which the daemon sends once the waiter is registered, is read before
start), start, copy streams until the attach stream ends, then read the exit
status from the wait answer. Exit codes: 125 for errors before the container ran,
126/127 when the command cannot be invoked or found, else the container's code.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli.client import APIError, APINotFound, Client, Connection, Hijacked
from dockyard.cli.commands.container_opts import (
    CREATE_SPEC,
    RUN_SPEC,
    CreateRequest,
    build_create,
)
from dockyard.cli.commands.containers import RunFailure
from dockyard.cli.flags import FlagError, Opts, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXIT_DAEMON = 125
EXIT_CANNOT_INVOKE = 126
EXIT_NOT_FOUND = 127
WAIT_HEADER_TIMEOUT = 5.0
# the signals a foreground ``run`` forwards to the container (docker's sig-proxy)
PROXIED = (1, 2, 3, 10, 12, 15)   # HUP INT QUIT USR1 USR2 TERM


def start_error_status(message: str) -> int:
    """docker's mapping of a start failure to 125/126/127 (case-insensitive: the
    daemon's strerror text may be capitalized)."""
    message = message.lower()
    if ("executable file not found" in message or "no such file or directory" in message
            or "system cannot find the file specified" in message):
        return EXIT_NOT_FOUND
    if "permission denied" in message or "is a directory" in message:
        return EXIT_CANNOT_INVOKE
    return EXIT_DAEMON


# --- images -------------------------------------------------------------------------


def _split_ref(image: str) -> tuple[str, str]:
    """(fromImage, tag) as docker sends them: ``busybox`` -> (busybox, latest)."""
    if "@" in image:
        return image, ""
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1:]
    return image, "latest"


def familiar(image: str) -> str:
    name, tag = _split_ref(image)
    return f"{name}:{tag}" if tag else name


def pull(client: Client, image: str, platform: str | None, quiet: bool,
         out: Any = None) -> None:
    """POST /images/create, printing the progress messages like docker (not a tty)."""
    out = out or sys.stderr
    name, tag = _split_ref(image)
    resp = client.stream("POST", "/images/create",
                         {"fromImage": name, "tag": tag or None, "platform": platform})
    for msg in resp.iter_json():
        if not isinstance(msg, dict):
            continue
        err = msg.get("errorDetail", {}).get("message") if isinstance(
            msg.get("errorDetail"), dict) else None
        if msg.get("error") or err:
            raise APIError(500, err or msg.get("error"))
        if quiet:
            continue
        status = msg.get("status") or msg.get("stream") or ""
        line = f"{msg['id']}: {status}" if msg.get("id") else status
        if line:
            out.write(line.rstrip("\n") + "\n")
    out.flush()


def create_container(client: Client, req: CreateRequest, pull_policy: str | None,
                     quiet: bool) -> str:
    """POST /containers/create; pulls and retries on a missing image (``--pull``)."""
    policy = pull_policy or "missing"
    if policy not in ("missing", "always", "never"):
        raise FlagError(f'invalid pull option: \'{policy}\': must be one of "always", '
                        '"missing" or "never"')
    if policy == "always":
        pull(client, req.image, req.platform, quiet)
    try:
        resp = client.post("/containers/create", req.params(), req.body)
    except APINotFound as e:
        if policy != "missing" or "image" not in e.message.lower():
            raise
        sys.stderr.write(f"Unable to find image '{familiar(req.image)}' locally\n")
        sys.stderr.flush()
        pull(client, req.image, req.platform, quiet)
        resp = client.post("/containers/create", req.params(), req.body)
    for w in resp.get("Warnings") or ():
        sys.stderr.write(f"WARNING: {w}\n")
    return resp["Id"]


# --- streams ------------------------------------------------------------------------


def _write_all(fd: int, data: bytes) -> None:
    """Write everything; BrokenPipeError propagates (``logs -f | head`` must end)."""
    while data:
        n = os.write(fd, data)
        data = data[n:]


class Demux:
    """docker's multiplexed stream: 8-byte headers [stream, 0, 0, 0, size BE]."""

    def __init__(self, stdout_fd: int = 1, stderr_fd: int = 2) -> None:
        self.buf = b""
        self.fds = {0: stdout_fd, 1: stdout_fd, 2: stderr_fd}

    def feed(self, data: bytes) -> None:
        self.buf += data
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 8:
            size = int.from_bytes(buf[pos + 4:pos + 8], "big")
            if len(buf) - pos - 8 < size:
                break
            fd = self.fds.get(buf[pos], 1)
            _write_all(fd, buf[pos + 8:pos + 8 + size])
            pos += 8 + size
        self.buf = buf[pos:]


def pump(h: Hijacked, *, tty: bool, stdin: bool, detach_keys: bytes | None = None,
         signals: Any = None, on_signal: Any = None) -> str:
    """Copy stdin -> h and h -> stdout/stderr until the output ends.

    Returns "eof" (the container's streams closed) or "detached" (detach keys).
    ``signals`` is a SignalPipe; ``on_signal(signum)`` handles what it delivers.
    """
    import select

    from dockyard.cli.tty import DetachScanner

    demux = None if tty else Demux()
    scanner = DetachScanner(detach_keys) if (tty and stdin and detach_keys) else None
    in_fd = 0 if stdin else -1
    hfd = h.fileno()
    # bytes that arrived with the HTTP head are buffered in the connection
    first = h.conn.buf
    h.conn.buf = b""
    if first:
        demux.feed(first) if demux else _write_all(1, first)
    while True:
        rlist = [hfd]
        if in_fd >= 0:
            rlist.append(in_fd)
        if signals is not None:
            rlist.append(signals.fd)
        try:
            ready, _, _ = select.select(rlist, [], [])
        except InterruptedError:
            continue
        if signals is not None and signals.fd in ready:
            for sig in signals.read():
                if on_signal is not None:
                    on_signal(sig)
        if in_fd >= 0 and in_fd in ready:
            try:
                data = os.read(in_fd, 32768)
            except OSError:
                data = b""
            if not data:
                in_fd = -1
                h.close_write()
            else:
                detached = False
                if scanner is not None:
                    data, detached = scanner.feed(data)
                try:
                    if data:
                        h.sendall(data)
                except OSError:   # the daemon closed its side; keep reading output
                    in_fd = -1
                if detached:
                    return "detached"
        if hfd in ready:
            sock = h.conn.sock
            try:
                data = sock.recv(65536)
                # TLS: decrypted bytes may wait inside the SSL object, unseen by select
                pending = getattr(sock, "pending", None)
                while data and pending is not None and pending():
                    data += sock.recv(pending())
            except OSError:
                data = b""
            if not data:
                return "eof"
            if demux is not None:
                demux.feed(data)
            else:
                _write_all(1, data)


def _read_head_within(conn: Connection, timeout: float) -> None:
    """Block until ``conn`` has bytes to read (the wait header), at most ``timeout``."""
    import select

    select.select([conn.fileno()], [], [], timeout)


def _wait_result(client: Client, conn: Connection) -> int:
    resp = client.finish(conn)
    doc = resp.json() or {}
    err = doc.get("Error")
    if isinstance(err, dict) and err.get("Message"):
        sys.stderr.write(f"{err['Message']}\n")
    return int(doc.get("StatusCode", 0))


def _console_size() -> list[int] | None:
    """[rows, columns] of the user's terminal (stdout, else stdin), None if neither."""
    from dockyard.cli.tty import terminal_size

    size = terminal_size(1) or terminal_size(0)
    return [size[0], size[1]] if size else None


def _resize(client: Client, path: str) -> None:
    from dockyard.cli.tty import terminal_size

    size = terminal_size(1) or terminal_size(0)
    if size is None:
        return
    try:
        client.request("POST", path, {"h": size[0], "w": size[1]}).read()
    except APIError:
        pass


def stream_container(client: Client, cid: str, *, tty: bool, stdin: bool, stdout: bool,
                     stderr: bool, sig_proxy: bool, detach_keys: str | None,
                     start: Any = None, wait_condition: str | None = None,
                     resize_path: str | None = None) -> tuple[str, Connection | None]:
    """Attach to ``cid`` (and start it via ``start()``); returns (how it ended, the
    wait connection if ``wait_condition`` was given)."""
    from dockyard.cli.tty import (
        DEFAULT_DETACH_KEYS,
        RawTerminal,
        SignalPipe,
        parse_detach_keys,
    )

    try:
        keys = parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)
    except ValueError as e:
        raise FlagError(str(e)) from None
    h = None
    wait_conn = None
    signals = None
    resize_path = resize_path or f"/containers/{cid}/resize"

    def on_signal(sig: int) -> None:
        if sig == 28:
            _resize(client, resize_path)
        else:
            try:
                client.request("POST", f"/containers/{cid}/kill", {"signal": str(sig)}
                               ).read()
            except APIError:
                pass

    try:
        if stdin or stdout or stderr:
            h = client.hijack(f"/containers/{cid}/attach",
                              {"stream": True, "stdin": stdin, "stdout": stdout,
                               "stderr": stderr})
        if wait_condition:
            wait_conn = client.send_only("POST", f"/containers/{cid}/wait",
                                         {"condition": wait_condition})
            _read_head_within(wait_conn, WAIT_HEADER_TIMEOUT)
        watched = [28] if tty else list(PROXIED) if sig_proxy else []   # 28: SIGWINCH
        if watched and h is not None:
            signals = SignalPipe(watched)
        if start is not None:
            start()
        if h is None:
            return "eof", wait_conn
        if tty:
            _resize(client, resize_path)
        with RawTerminal(0) if (tty and stdin) else _Null():
            how = pump(h, tty=tty, stdin=stdin, detach_keys=keys, signals=signals,
                       on_signal=on_signal)
        return how, wait_conn
    except BaseException:
        if wait_conn is not None:
            wait_conn.close()
        raise
    finally:
        if signals is not None:
            signals.close()
        if h is not None:
            h.close()


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# --- run / create -------------------------------------------------------------------


def cmd_create(opts: Opts, args: list[str], ctx: Any) -> int:
    req = build_create(opts, args, detach=False)
    client = ctx.client()
    cid = create_container(client, req, opts.pull, opts.quiet)
    if opts.cidfile:
        _write_cidfile(opts.cidfile, cid)
    print(cid)
    return 0


def _write_cidfile(path: str, cid: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise FlagError(f"container ID file found, make sure the other container isn't "
                        f"running or delete {path}") from None
    with os.fdopen(fd, "w") as f:
        f.write(cid)


def cmd_run(opts: Opts, args: list[str], ctx: Any) -> int:
    """``docker run``; errors before the container runs exit 125 (RunFailure)."""
    req = build_create(opts, args, detach=bool(opts.detach))
    body = req.body
    if body["Tty"] and body["AttachStdin"] and not os.isatty(0):
        sys.stderr.write("the input device is not a TTY\n")
        return 1
    if body["Tty"] and not opts.detach:
        console = _console_size()
        if console:
            body["HostConfig"]["ConsoleSize"] = console
    client = ctx.client()
    if opts.cidfile and os.path.exists(opts.cidfile):
        raise FlagError(f"container ID file found, make sure the other container isn't "
                        f"running or delete {opts.cidfile}")
    try:
        cid = create_container(client, req, opts.pull, opts.quiet)
    except APIError as e:
        raise RunFailure(f"Error response from daemon: {e.message}", EXIT_DAEMON) from None
    if opts.cidfile:
        _write_cidfile(opts.cidfile, cid)

    def start() -> None:
        try:
            client.request("POST", f"/containers/{cid}/start").read()
        except APIError as e:
            if opts.rm:
                try:
                    client.request("DELETE", f"/containers/{cid}", {"force": True}).read()
                except APIError:
                    pass
            raise RunFailure(f"Error response from daemon: {e.message}",
                             start_error_status(e.message)) from None

    if opts.detach:
        start()
        print(cid)
        return 0
    sig_proxy = not opts.given("sig_proxy") or opts.sig_proxy
    how, wait_conn = stream_container(
        client, cid, tty=body["Tty"], stdin=body["AttachStdin"],
        stdout=body["AttachStdout"], stderr=body["AttachStderr"], sig_proxy=sig_proxy,
        detach_keys=opts.detach_keys, start=start,
        wait_condition="removed" if opts.rm else "next-exit")
    if how == "detached":
        if wait_conn is not None:
            wait_conn.close()
        return 0
    assert wait_conn is not None
    try:
        return _wait_result(client, wait_conn)
    except APIError as e:
        raise RunFailure(f"Error response from daemon: {e.message}", EXIT_DAEMON) from None


# --- start / attach / exec ----------------------------------------------------------

START_SPEC = Spec("[OPTIONS] CONTAINER [CONTAINER...]", [
    ("a attach", "bool", "Attach STDOUT/STDERR and forward signals"),
    ("- detach-keys", "str", "Override the key sequence for detaching a container"),
    ("i interactive", "bool", "Attach container's STDIN"),
], min_args=1, description="Start one or more stopped containers")

ATTACH_SPEC = Spec("[OPTIONS] CONTAINER", [
    ("- detach-keys", "str", "Override the key sequence for detaching a container"),
    ("- no-stdin", "bool", "Do not attach STDIN"),
    ("- sig-proxy", "bool", "Proxy all received signals to the process (default true)"),
], min_args=1, max_args=1,
    description="Attach local standard input, output, and error streams to a running "
                "container")

EXEC_SPEC = Spec("[OPTIONS] CONTAINER COMMAND [ARG...]", [
    ("d detach", "bool", "Detached mode: run command in the background"),
    ("- detach-keys", "str", "Override the key sequence for detaching a container"),
    ("e env", "list", "Set environment variables"),
    ("- env-file", "list", "Read in a file of environment variables"),
    ("i interactive", "bool", "Keep STDIN open even if not attached"),
    ("- privileged", "bool", "Give extended privileges to the command"),
    ("t tty", "bool", "Allocate a pseudo-TTY"),
    ("u user", "str", "Username or UID (format: <name|uid>[:<group|gid>])"),
    ("w workdir", "str", "Working directory inside the container"),
], interspersed=False, min_args=2,
    description="Execute a command in a running container")


def cmd_start(opts: Opts, args: list[str], ctx: Any) -> int:
    client = ctx.client()
    if opts.attach or opts.interactive:
        if len(args) > 1:
            raise TooManyToAttach()
        info = client.get(f"/containers/{_q(args[0])}/json")
        cid = info["Id"]
        cfg = info.get("Config") or {}
        auto_rm = bool((info.get("HostConfig") or {}).get("AutoRemove"))

        def start() -> None:
            client.request("POST", f"/containers/{cid}/start").read()

        how, wait_conn = stream_container(
            client, cid, tty=bool(cfg.get("Tty")),
            stdin=bool(opts.interactive and cfg.get("OpenStdin")), stdout=True,
            stderr=True, sig_proxy=True, detach_keys=opts.detach_keys, start=start,
            wait_condition="removed" if auto_rm else "next-exit")
        if how == "detached" or wait_conn is None:
            if wait_conn is not None:
                wait_conn.close()
            return 0
        return _wait_result(client, wait_conn)
    failed = []
    for ref in args:
        try:
            client.request("POST", f"/containers/{_q(ref)}/start").read()
            print(ref)
        except APIError as e:
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            failed.append(ref)
    if failed:
        sys.stderr.write(f"Error: failed to start containers: {', '.join(failed)}\n")
        return 1
    return 0


class TooManyToAttach(FlagError):
    def __init__(self) -> None:
        super().__init__("you cannot start and attach multiple containers at once")


def cmd_attach(opts: Opts, args: list[str], ctx: Any) -> int:
    client = ctx.client()
    info = client.get(f"/containers/{_q(args[0])}/json")
    state = info.get("State") or {}
    if not state.get("Running"):
        sys.stderr.write("You cannot attach to a stopped container, start it first\n")
        return 1
    if state.get("Paused"):
        sys.stderr.write("You cannot attach to a paused container, unpause it first\n")
        return 1
    cid = info["Id"]
    cfg = info.get("Config") or {}
    stdin = bool(cfg.get("OpenStdin")) and not opts.no_stdin
    sig_proxy = not opts.given("sig_proxy") or opts.sig_proxy
    how, _ = stream_container(
        client, cid, tty=bool(cfg.get("Tty")), stdin=stdin, stdout=True, stderr=True,
        sig_proxy=sig_proxy, detach_keys=opts.detach_keys, wait_condition=None)
    if how == "detached":
        return 0
    try:
        doc = client.post(f"/containers/{cid}/wait")
        return int((doc or {}).get("StatusCode", 0))
    except APINotFound:
        return 0


def cmd_exec(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.commands.container_opts import _env

    ref, cmd = args[0], args[1:]
    detach = bool(opts.detach)
    if opts.tty and opts.interactive and not detach and not os.isatty(0):
        sys.stderr.write("the input device is not a TTY\n")
        return 1
    client = ctx.client()
    console = _console_size() if opts.tty else None
    body = {"User": opts.user or "", "Privileged": bool(opts.privileged),
            "Tty": bool(opts.tty), "AttachStdin": bool(opts.interactive) and not detach,
            "AttachStdout": not detach, "AttachStderr": not detach,
            "DetachKeys": opts.detach_keys or "", "Env": _env(opts) or None,
            "WorkingDir": opts.workdir or "", "Cmd": cmd}
    if console:
        body["ConsoleSize"] = console   # sized before it runs (no resize race)
    eid = client.post(f"/containers/{_q(ref)}/exec", None, body)["Id"]
    if detach:
        client.request("POST", f"/exec/{eid}/start", None,
                       {"Detach": True, "Tty": bool(opts.tty)}).read()
        return 0
    from dockyard.cli.tty import (
        DEFAULT_DETACH_KEYS,
        RawTerminal,
        SignalPipe,
        parse_detach_keys,
    )

    try:
        keys = parse_detach_keys(opts.detach_keys or DEFAULT_DETACH_KEYS)
    except ValueError as e:
        raise FlagError(str(e)) from None
    start_body: dict[str, Any] = {"Detach": False, "Tty": bool(opts.tty)}
    if console:
        start_body["ConsoleSize"] = console
    h = client.hijack(f"/exec/{eid}/start", None, start_body)
    signals = SignalPipe([28]) if opts.tty else None
    resize = f"/exec/{eid}/resize"
    try:
        if opts.tty:
            _resize(client, resize)
        with RawTerminal(0) if (opts.tty and opts.interactive) else _Null():
            how = pump(h, tty=bool(opts.tty), stdin=bool(opts.interactive),
                       detach_keys=keys, signals=signals,
                       on_signal=lambda sig: _resize(client, resize))
    finally:
        if signals is not None:
            signals.close()
        h.close()
    if how == "detached":
        return 0
    info = client.get(f"/exec/{eid}/json")
    code = info.get("ExitCode")
    return int(code) if code is not None else 0


def _q(ref: str) -> str:
    from dockyard.cli.client import quote

    return quote(ref)


__all__ = [
    "ATTACH_SPEC",
    "CREATE_SPEC",
    "EXEC_SPEC",
    "RUN_SPEC",
    "START_SPEC",
    "Demux",
    "cmd_attach",
    "cmd_create",
    "cmd_exec",
    "cmd_run",
    "cmd_start",
    "create_container",
    "familiar",
    "pull",
    "pump",
    "start_error_status",
]
