"""Docker's seccomp profile format -> a runtime-spec ``linux.seccomp`` section.

Docker's profiles (its default is moby/profiles ``seccomp/default.json``) are a
superset of the spec section: ``archMap`` lists an architecture with the
sub-architectures it can also run, and each ``syscalls[]`` entry may carry
``includes``/``excludes`` filters on capabilities, Go architecture names
(amd64, arm64, ...) and a minimum kernel. Resolving them needs the container's
capability set (its bounding set, as Docker uses), the machine and the kernel,
so the daemon calls this once per container; it is pure and fast.

Rules, as Docker applies them: an entry is dropped when any excluded capability
is held, the architecture is excluded, or the kernel is at least the excluded
minKernel; it is kept only if every included capability is held, the
architecture is among the included ones (when any are given) and the kernel is
at least the included minKernel.
"""

from __future__ import annotations

import os
from _collections_abc import Iterable, Mapping  # collections.abc without collections (~2 ms)

from dockyard.errors import InvalidArgument

__all__ = ["GO_ARCH", "SPEC_ARCH", "docker_profile_to_spec", "kernel_version"]

#: uname machine -> Go's GOARCH (the names Docker profiles use in includes/excludes).
GO_ARCH: Mapping[str, str] = {
    "x86_64": "amd64", "i386": "386", "i686": "386", "aarch64": "arm64", "armv7l": "arm",
    "armv6l": "arm", "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x",
    "riscv64": "riscv64", "mips64": "mips64", "loongarch64": "loong64",
}
#: GOARCH -> the spec's native architecture name (archMap keys).
SPEC_ARCH: Mapping[str, str] = {
    "amd64": "SCMP_ARCH_X86_64", "386": "SCMP_ARCH_X86", "arm64": "SCMP_ARCH_AARCH64",
    "arm": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "ppc64": "SCMP_ARCH_PPC64",
    "s390x": "SCMP_ARCH_S390X", "riscv64": "SCMP_ARCH_RISCV64",
    "mips64": "SCMP_ARCH_MIPS64", "loong64": "SCMP_ARCH_LOONGARCH64",
}

_COPIED = ("defaultAction", "defaultErrnoRet", "listenerPath", "listenerMetadata", "flags")


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of a kernel release string such as ``6.18.44-foo`` or ``4.8``."""
    release = os.uname().release if release is None else release
    parts = []
    for piece in release.split(".")[:2]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            raise InvalidArgument(f"kernel version {release!r} is not major.minor[...]")
        parts.append(int(digits))
    if len(parts) == 1:
        parts.append(0)
    return parts[0], parts[1]


def _entry_applies(entry: Mapping[str, object], caps: frozenset[str], goarch: str,
                   kernel: tuple[int, int], where: str) -> bool:
    excludes = entry.get("excludes") or {}
    includes = entry.get("includes") or {}
    if not isinstance(excludes, Mapping) or not isinstance(includes, Mapping):
        raise InvalidArgument(f"{where}: includes/excludes must be objects")
    if any(c in caps for c in excludes.get("caps") or ()):
        return False
    if goarch in (excludes.get("arches") or ()):
        return False
    if excludes.get("minKernel") and \
            kernel >= kernel_version(excludes["minKernel"]):
        return False
    if not all(c in caps for c in includes.get("caps") or ()):
        return False
    arches = includes.get("arches") or ()
    if arches and goarch not in arches:
        return False
    return not (includes.get("minKernel") and
                kernel < kernel_version(includes["minKernel"]))


def docker_profile_to_spec(profile: Mapping[str, object], capabilities: Iterable[str], *,
                           machine: str | None = None,
                           kernel: str | tuple[int, int] | None = None) -> dict[str, object]:
    """The spec section Docker would give the runtime for these caps, machine and kernel.

    ``capabilities``: the container's (bounding) capability names. ``machine``:
    ``uname -m`` style (default: this machine). ``kernel``: a release string or
    (major, minor) (default: the running kernel).
    """
    if not isinstance(profile, Mapping):
        raise InvalidArgument("seccomp profile: must be a JSON object")
    machine = machine or os.uname().machine
    goarch = GO_ARCH.get(machine, machine)
    kver = kernel if isinstance(kernel, tuple) else kernel_version(kernel)
    caps = frozenset(capabilities)

    out: dict[str, object] = {k: profile[k] for k in _COPIED if profile.get(k) is not None}
    if "defaultAction" not in out:
        raise InvalidArgument("seccomp profile: defaultAction is missing")
    arch_map = profile.get("archMap")
    if arch_map and profile.get("architectures"):
        raise InvalidArgument("seccomp profile: use either 'architectures' or 'archMap', "
                              "not both")
    if arch_map:
        native = SPEC_ARCH.get(goarch)
        arches: list[str] = []
        for item in arch_map:
            if item.get("architecture") == native:
                arches.append(native)
                arches.extend(item.get("subArchitectures") or ())
        out["architectures"] = arches
    elif profile.get("architectures"):
        out["architectures"] = list(profile["architectures"])

    syscalls = []
    for i, entry in enumerate(profile.get("syscalls") or ()):
        where = f"seccomp profile: syscalls[{i}]"
        if not isinstance(entry, Mapping):
            raise InvalidArgument(f"{where}: must be an object")
        name, names = entry.get("name"), entry.get("names")
        if name and names:
            raise InvalidArgument(f"{where}: use either 'name' or 'names', not both")
        if not _entry_applies(entry, caps, goarch, kver, where):
            continue
        rule: dict[str, object] = {"names": [name] if name else list(names or ()),
                                "action": entry.get("action")}
        if entry.get("errnoRet") is not None:
            rule["errnoRet"] = entry["errnoRet"]
        if entry.get("args"):
            rule["args"] = [dict(a) for a in entry["args"]]
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out
