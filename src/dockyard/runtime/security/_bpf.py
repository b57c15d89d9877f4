"""The finished seccomp program as bytes: export, the ENOSYS prefix, an on-disk cache.

libseccomp generates the classic-BPF program; we take it as bytes (through a
memfd, never a file on disk), may put a short prefix in front of it, and load
it ourselves with seccomp(2). Generating docker's default profile takes about
15 ms, so finished programs are cached by a digest of everything that shapes
them (the section, the libseccomp build, this code's format version, the
machine). The cache directory must be owned by us and closed to others: a
program read from it is trusted, exactly like the runtime's state directory.
"""

from __future__ import annotations

import os
import struct

__all__ = ["cache_get", "cache_key", "cache_put", "enosys_stub", "export"]

_FORMAT = b"dockyard-seccomp-bpf/1"
_INSN = struct.Struct("=HBBI")  # struct sock_filter, host byte order

# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGT_K = 0x25
_JSET_K = 0x45
_RET_K = 0x06

_OFF_NR, _OFF_ARCH = 0, 4  # offsets in struct seccomp_data
_RET_ENOSYS = 0x00050000 | 38
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000


def export(filt: object) -> bytes:
    """The program libseccomp generates for ``filt`` (a pyseccomp SyscallFilter)."""
    fd = os.memfd_create("dockyard-seccomp-bpf", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as f:
        filt.export_bpf(f)  # type: ignore[attr-defined]
        f.seek(0)
        return f.read()


def enosys_stub(native_arch: int, highest: int) -> bytes:
    """A prefix returning ENOSYS for native syscalls numbered above ``highest``.

    Everything else (other arches, x32 calls on x86_64, known numbers) falls
    through to libseccomp's program, which starts by loading the arch itself.
    """
    insns = [(_LD_W_ABS, 0, 0, _OFF_ARCH)]
    body = [(_LD_W_ABS, 0, 0, _OFF_NR)]
    if native_arch == _AUDIT_ARCH_X86_64:
        body.append((_JSET_K, 2, 0, _X32_SYSCALL_BIT))  # x32 ABI: to the filter
    body.append((_JGT_K, 0, 1, highest))                # newer: ENOSYS, else filter
    body.append((_RET_K, 0, 0, _RET_ENOSYS))
    insns.append((_JEQ_K, 0, len(body), native_arch))   # foreign arch: to the filter
    insns.extend(body)
    return b"".join(_INSN.pack(*i) for i in insns)


def _libseccomp_identity() -> str | None:
    machine = os.uname().machine
    for candidate in (f"/usr/lib/{machine}-linux-gnu/libseccomp.so.2",
                      f"/lib/{machine}-linux-gnu/libseccomp.so.2",
                      "/usr/lib64/libseccomp.so.2", "/usr/lib/libseccomp.so.2"):
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    return None


def cache_key(section: object) -> str | None:
    """Digest naming the program for ``section`` here; None when it cannot be cached."""
    import json

    try:  # the builtin module: hashlib would load OpenSSL first (~3 ms per start)
        from _blake2 import blake2b
    except ImportError:
        from hashlib import blake2b

    ident = _libseccomp_identity()
    if ident is None:
        return None
    try:
        text = json.dumps(section, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    h = blake2b(_FORMAT, digest_size=32)
    for part in (os.uname().machine, ident, text):
        h.update(b"\0" + part.encode())
    return h.hexdigest()


def _trusted_dir(cache_dir: str) -> bool:
    import stat

    try:
        st = os.lstat(cache_dir)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and \
        not st.st_mode & 0o022


def cache_get(cache_dir: str, key: str) -> tuple[bytes, int, tuple[str, ...]] | None:
    """(bpf, flags, skipped) from the cache, or None on any miss or doubt."""
    import json

    if not _trusted_dir(cache_dir):
        return None
    try:
        fd = os.open(os.path.join(cache_dir, key), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    try:
        magic, header, bpf = data.split(b"\n", 2)
        meta = json.loads(header)
        flags, skipped = int(meta["flags"]), tuple(str(s) for s in meta["skipped"])
    except (ValueError, KeyError, TypeError):
        return None
    if magic != _FORMAT or not bpf or len(bpf) % _INSN.size:
        return None
    return bpf, flags, skipped


def cache_put(cache_dir: str, key: str, bpf: bytes, flags: int,
              skipped: tuple[str, ...]) -> None:
    """Store a program (best effort: a cache that cannot be written is just skipped)."""
    import json

    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    except OSError:
        return
    if not _trusted_dir(cache_dir):
        return
    header = json.dumps({"flags": flags, "skipped": list(skipped)}).encode()
    final = os.path.join(cache_dir, key)
    tmp = f"{final}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(_FORMAT + b"\n" + header + b"\n" + bpf)
        os.rename(tmp, final)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
