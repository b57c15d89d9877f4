"""Restart policies, dockerd's rules: whether to restart after an exit, and when.

* ``no`` (or ""): never. ``always``: every exit. ``unless-stopped``: like always,
  but also not re-started at daemon start after a user's stop. ``on-failure[:N]``:
  a non-zero exit, at most N times (0 = unlimited).
* Never after the user stopped or killed the container (``manually_stopped``).
* Backoff: the first restart waits 100 ms, each next one twice the last (at most a
  minute); a run that lasted 10 s or more resets the delay.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.errors import InvalidArgument

POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


def check_policy(policy: dict) -> None:
    name = policy.get("Name") or ""
    if name not in POLICIES:
        raise InvalidArgument(f"invalid restart policy '{name}'")
    count = policy.get("MaximumRetryCount") or 0
    if not isinstance(count, int) or count < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if count and name != "on-failure":
        raise InvalidArgument("invalid restart policy: maximum retry count can only be used "
                              "with 'on-failure'")


def should_restart(policy: dict, exit_code: int, restart_count: int,
                   manually_stopped: bool) -> bool:
    if manually_stopped:
        return False
    name = policy.get("Name") or ""
    if name in ("always", "unless-stopped"):
        return True
    if name == "on-failure":
        limit = policy.get("MaximumRetryCount") or 0
        return exit_code != 0 and (limit == 0 or restart_count < limit)
    return False


def restart_at_daemon_start(policy: dict, exit_code: int, restart_count: int,
                            manually_stopped: bool) -> bool:
    """dockerd's rule for a stopped container at daemon start: ``always`` comes back
    even after a user's stop (that is its difference from ``unless-stopped``);
    ``on-failure`` by the exit rule."""
    name = policy.get("Name") or ""
    if name == "always":
        return True
    if name == "unless-stopped":
        return not manually_stopped
    return should_restart(policy, exit_code, restart_count, manually_stopped)


@dataclass
class Backoff:
    delay: float = 0.0

    def next(self, ran_for: float) -> float:
        """The delay before the next restart, given how long the last run lasted."""
        if ran_for >= RESET_AFTER or self.delay == 0.0:
            self.delay = FIRST_DELAY
        else:
            self.delay = min(self.delay * 2, MAX_DELAY)
        return self.delay


__all__ = ["Backoff", "check_policy", "restart_at_daemon_start", "should_restart"]
