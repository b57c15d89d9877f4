"""The container's terminal: a pty, its master sent over a console socket or relayed.

With ``process.terminal`` the init opens a pty, makes the slave its controlling
terminal and stdio, and hands the master up to the parent. The parent either
sends it over ``--console-socket`` (SCM_RIGHTS, the pty's name as payload, as
runc does, so containerd and docker can receive it) or, for a foreground
``run -t``/``exec -t`` without a socket, relays between its own stdio and the
master until the container closes its side.
"""

from __future__ import annotations

import fcntl
import os
import termios

_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431


def open_pty(ptmx: str = "/dev/ptmx") -> tuple[int, str]:
    """Open a new pty on the devpts behind ``ptmx``; return (master fd, slave path)."""
    import struct

    master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
        n = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, b"\0\0\0\0"))[0]
    except OSError:
        os.close(master)
        raise
    real = os.path.realpath(ptmx)
    # /dev/pts/ptmx (a devpts instance's own) or the legacy /dev/ptmx node of the
    # host's first instance, whose slaves live in /dev/pts.
    pts = os.path.dirname(real) if real.endswith("/pts/ptmx") else \
        os.path.join(os.path.dirname(real), "pts")
    return master, os.path.join(pts, str(n))


def set_size(fd: int, height: int, width: int) -> None:
    import struct

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def become_controlling_tty(slave_fd: int) -> None:
    """Make ``slave_fd`` this session leader's controlling tty and its stdio."""
    fcntl.ioctl(slave_fd, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave_fd, target)


def send_to_socket(socket_path: str, master_fd: int, name: str = "/dev/ptmx") -> None:
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(socket_path)
        except OSError as e:
            raise OSError(e.errno, f"connecting to console socket {socket_path!r}: "
                                   f"{e.strerror}") from None
        socket.send_fds(s, [name.encode()], [master_fd])


def relay(master_fd: int, done) -> None:
    """Copy our stdin to the pty and the pty to our stdout until it closes.

    ``done()`` says whether the container process has exited (then the rest of the
    output is drained). Puts our own terminal in raw mode meanwhile and restores it.
    """
    import select

    old = None
    if os.isatty(0):
        import tty

        old = termios.tcgetattr(0)
        tty.setraw(0)
        try:
            size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(master_fd, termios.TIOCSWINSZ, size)
        except OSError:
            pass
    stdin_open = True
    try:
        while True:
            rfds = [master_fd] + ([0] if stdin_open else [])
            try:
                ready, _, _ = select.select(rfds, [], [], 0.2)
            except InterruptedError:
                continue
            if master_fd in ready:
                try:
                    data = os.read(master_fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    return
                _write_all(1, data)
            elif done():
                return
            if 0 in ready:
                data = os.read(0, 65536)
                if not data:
                    stdin_open = False
                    continue
                _write_all(master_fd, data)
    finally:
        if old is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, old)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]
