"""Process security for ``dockyard-runtime``: what the container process may do.

Two entry points, matching the two moments of a container's life:

* ``validate(spec)`` at ``create``, before anything exists: every spec error in
  capabilities, rlimits, user, oomScoreAdj, AppArmor/SELinux and seccomp raises
  ``InvalidArgument`` naming the JSON path. The seccomp filter is built (not
  loaded) here, and reused by ``finalize_process`` when the init is a fork of
  the validating process.
* ``finalize_process(process, seccomp=..., no_new_privileges=...)`` in the init,
  as the very last step before execve. The order matters (each step needs the
  privileges the next one drops), see ``_finalize`` below.
* ``preload(process=..., seccomp=...)`` before a process enters a user namespace (``exec``;
  ``validate`` does it for ``create``): it imports everything ``finalize_process``
  needs and compiles the filter, because inside the namespace the interpreter's
  own files may be unreachable (e.g. a venv under a 0700 /root), so no import
  may happen there.

Docker's seccomp profile format is converted by ``docker_profile_to_spec``;
``features()`` gives this package's part of ``dockyard-runtime features``.
"""

from __future__ import annotations

import os
from _collections_abc import Mapping  # collections.abc without collections (~2 ms)

from dockyard.errors import InvalidArgument
from dockyard.runtime.security import capabilities, identity, lsm, oom, rlimits

if False:  # typing only; importing typing costs ~7 ms per container start
    from dockyard.runtime.security.seccomp import Compiled

__all__ = ["docker_profile_to_spec", "features", "finalize_process", "preload", "validate"]


def __getattr__(name: str) -> object:
    # PEP 562: the docker profile converter is for the daemon, not the runtime's hot path.
    if name == "docker_profile_to_spec":
        from dockyard.runtime.security.profile import docker_profile_to_spec

        return docker_profile_to_spec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_CAP_SYS_RESOURCE = 24
_CAP_SYS_ADMIN = 21

# (section object, Compiled): a filter built by validate() in this process (or in
# a parent the init was forked from), reused when the same section comes back.
_compiled_cache: tuple[object, Compiled] | None = None


def _section(spec: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = spec.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{key}: must be an object")
    return value


def _check_rlimits_reachable(limits: list[rlimits.Rlimit]) -> None:
    """Hard limits above ours need CAP_SYS_RESOURCE: say so at create, not at start."""
    if not limits:
        return
    import resource

    from dockyard.runtime import syscalls

    try:
        effective = syscalls.capget()[0]
    except OSError:
        return
    if effective >> _CAP_SYS_RESOURCE & 1:
        return
    for i, lim in enumerate(limits):
        cur_hard = resource.getrlimit(lim.resource)[1] & ((1 << 64) - 1)
        if lim.hard > cur_hard:
            raise InvalidArgument(
                f"process.rlimits[{i}]: {lim.name} hard limit {lim.hard} is above the "
                f"runtime's own hard limit {cur_hard}; raising it needs CAP_SYS_RESOURCE, "
                "which this runtime does not have")


def validate(spec: Mapping[str, object], *, cache_dir: str | None = None) -> None:
    """Raise InvalidArgument (with the JSON path) for any security setting that cannot work.

    ``cache_dir``: where finished seccomp programs may be kept (root-only, e.g.
    ``<runtime root>/seccomp``); a profile seen before then costs ~1 ms, not ~20.
    """
    process = _section(spec, "process")
    linux = _section(spec, "linux")
    capabilities.parse(process.get("capabilities"))
    limits = rlimits.parse(process.get("rlimits"))
    _check_rlimits_reachable(limits)
    identity.parse(process.get("user"))
    oom.parse(process.get("oomScoreAdj"))
    nnp = process.get("noNewPrivileges", False)
    if not isinstance(nnp, bool):
        raise InvalidArgument("process.noNewPrivileges: must be true or false")
    lsm.validate(dict(process), dict(linux))
    preload(process=process, seccomp=linux.get("seccomp"), cache_dir=cache_dir)


def preload(*, process: Mapping[str, object] | None = None, seccomp: object = None,
            cache_dir: str | None = None) -> None:
    """Import what ``finalize_process`` needs and compile ``seccomp`` (kept in memory).

    Call it before entering a user namespace; ``finalize_process`` in this process
    or a fork of it then imports nothing and reuses the compiled program when given
    the same section (or an equal one). With ``process`` given, only what that
    process uses is imported (nothing for seccomp when there is no section);
    without it, everything. Spec errors raise InvalidArgument.
    """
    global _compiled_cache
    from dockyard.runtime import syscalls  # noqa: F401

    if process is None or process.get("rlimits"):
        import resource  # noqa: F401  (rlimits.apply)
    capabilities.last_cap()  # read (and kept) while the host's /proc is in view
    if seccomp is None:
        if process is None:
            import dockyard.runtime.security._bpf
            import dockyard.runtime.security.seccomp  # noqa: F401
        return
    from dockyard.runtime.security import _bpf  # noqa: F401
    from dockyard.runtime.security import seccomp as seccomp_mod

    if isinstance(seccomp, seccomp_mod.Compiled):
        return  # already a finished program; finalize_process takes it as it is
    if _compiled_cache is not None and _compiled_cache[0] is seccomp:
        return
    if not isinstance(seccomp, Mapping):
        raise InvalidArgument("linux.seccomp: must be an object")
    _compiled_cache = (seccomp, seccomp_mod.compile(seccomp, cache_dir=cache_dir))


def features() -> dict[str, object]:
    """The security keys of the ``linux`` object of ``features`` (features-linux.json)."""
    from dockyard.runtime.security import seccomp

    return {
        "capabilities": list(capabilities.CAPABILITIES),
        "seccomp": {
            "enabled": True,
            "actions": sorted(a for a in seccomp.ACTIONS if a != "SCMP_ACT_NOTIFY"),
            "operators": sorted(seccomp.OPERATORS),
            "archs": sorted(seccomp.ARCHITECTURES),
            "knownFlags": sorted(seccomp.FLAGS),
            "supportedFlags": sorted(f for f, bit in seccomp.FLAGS.items() if bit),
        },
        "apparmor": {"enabled": lsm.apparmor_enabled()},
        "selinux": {"enabled": lsm.selinux_enabled()},
    }


def _compiled_for(section: object, cache_dir: str | None) -> Compiled:
    from dockyard.runtime.security import seccomp

    if isinstance(section, seccomp.Compiled):
        return section
    if _compiled_cache is not None and (_compiled_cache[0] is section
                                        or _compiled_cache[0] == section):
        return _compiled_cache[1]
    if not isinstance(section, Mapping):
        raise InvalidArgument("linux.seccomp: must be an object")
    return seccomp.compile(section, cache_dir=cache_dir)


def finalize_process(process: Mapping[str, object] | None, *, seccomp: object = None,
                     no_new_privileges: bool | None = None,
                     cache_dir: str | None = None) -> None:
    """Apply the process's security settings; after it returns only execve may follow.

    ``seccomp`` is the spec's ``linux.seccomp`` (or a ``seccomp.Compiled``);
    ``no_new_privileges`` defaults to ``process.noNewPrivileges``. ``cache_dir`` as
    for ``validate``.
    Raises DockyardError subclasses with the failing step named.
    """
    process = process or {}
    if no_new_privileges is None:
        no_new_privileges = bool(process.get("noNewPrivileges", False))
    compiled = _compiled_for(seccomp, cache_dir) if seccomp is not None else None
    _finalize(process, compiled, no_new_privileges)


def _finalize(process: Mapping[str, object], compiled: Compiled | None, nnp: bool) -> None:
    from dockyard.runtime import syscalls

    caps_given = process.get("capabilities") is not None
    caps = capabilities.parse(process.get("capabilities"))
    ident = identity.parse(process.get("user"))

    oom.apply(oom.parse(process.get("oomScoreAdj")))
    rlimits.apply(rlimits.parse(process.get("rlimits")))
    # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we have it.
    if compiled is not None and not nnp:
        _load(compiled)
    if caps_given:
        identity.set_keepcaps(True)
        if caps.bounding is not None:
            capabilities.drop_bounding(caps.bounding)
    identity.switch(ident)
    if caps_given:
        capabilities.set_sets(caps)
        capabilities.raise_ambient(caps.ambient, caps.permitted, caps.inheritable)
        identity.set_keepcaps(False)
    identity.set_umask(ident)
    if nnp:
        try:
            syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        except OSError as e:
            from dockyard.errors import SystemError_

            raise SystemError_(f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(e.errno)}") from e
    lsm.apply_exec_labels(process.get("apparmorProfile"), process.get("selinuxLabel"))
    # As late as possible: the filter may forbid anything but execve from here on.
    if compiled is not None and nnp:
        _load(compiled)


def _load(compiled: Compiled) -> None:
    from dockyard.runtime.security import seccomp  # imported already: it made `compiled`

    seccomp.load(compiled)
