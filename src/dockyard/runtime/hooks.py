"""Run OCI hooks: the state JSON on stdin, the hook's own args and env, a timeout.

A hook that fails (non-zero exit, killed, timed out, not executable) raises
:class:`HookFailed` for the phases where the spec says the lifecycle stops
(prestart, createRuntime, createContainer, startContainer); for poststart and
poststop the spec says warn and continue, so :func:`run_phase` with
``warn_only=True`` logs and runs the remaining hooks.
"""

from __future__ import annotations

import sys

from dockyard.errors import SystemError_
from dockyard.runtime import fastjson


class HookFailed(SystemError_):
    pass


def run_hook(hook: dict, state: dict, phase: str) -> None:
    import subprocess

    path = hook["path"]
    args = hook.get("args") or [path]
    env = dict(e.split("=", 1) for e in hook.get("env") or [] if "=" in e)
    timeout = hook.get("timeout")
    try:
        proc = subprocess.Popen(args, executable=path, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                close_fds=True, cwd="/")
    except OSError as e:
        raise HookFailed(f"{phase} hook {path}: cannot run: {e.strerror}") from None
    try:
        _, err = proc.communicate(fastjson.dumps(state).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise HookFailed(f"{phase} hook {path}: timed out after {timeout}s") from None
    except BrokenPipeError:
        _, err = proc.communicate()
    if proc.returncode != 0:
        how = (f"exit status {proc.returncode}" if proc.returncode > 0
               else f"killed by signal {-proc.returncode}")
        detail = err.decode(errors="replace").strip()
        raise HookFailed(f"{phase} hook {path} failed: {how}"
                         + (f": {detail}" if detail else ""))


def run_phase(spec: dict, phase: str, state: dict, *, warn_only: bool = False,
              warn=None) -> None:
    """Run every hook of ``phase`` in order."""
    hooks = (spec.get("hooks") or {}).get(phase) or []
    for hook in hooks:
        try:
            run_hook(hook, state, phase)
        except HookFailed as e:
            if not warn_only:
                raise
            (warn or _stderr_warn)(f"warning: {e.message} (continuing)")


def _stderr_warn(msg: str) -> None:
    print(msg, file=sys.stderr)


def has(spec: dict, phase: str) -> bool:
    return bool((spec.get("hooks") or {}).get(phase))


__all__ = ["HookFailed", "has", "run_hook", "run_phase"]
