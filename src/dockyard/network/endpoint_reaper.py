"""Veths that go away with their network namespace, watched until they are gone.

When a container's netns is released, the kernel deletes the veth pairs inside it
by itself, asynchronously and batched; deleting the host end ourselves would cost
an RCU grace period (~25 ms) on the container's exit path. ``VethReaper`` watches
such host ends from one thread and deletes any still there after a grace period (a
process kept the namespace alive). ``settle`` waits for the watch list to empty
(tests, uninstall, leak reports).
"""

from __future__ import annotations

import logging
import threading
import time

from dockyard.network.names import link_exists

__all__ = ["VethReaper"]

log = logging.getLogger("dockyardd.network")


class VethReaper:
    def __init__(self, grace: float = 3.0, poll: float = 0.02) -> None:
        self.grace = grace
        self.poll = poll
        self._pending: dict[str, float] = {}   # host veth name -> deadline
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, host_ifname: str) -> None:
        with self._cond:
            self._pending[host_ifname] = time.monotonic() + self.grace
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="dockyard-veth-reaper")
                self._thread.start()

    def _loop(self) -> None:
        from dockyard.network import veth

        while True:
            with self._cond:
                if not self._pending:
                    self._thread = None
                    self._cond.notify_all()
                    return
                pending = dict(self._pending)
            for name, deadline in pending.items():
                gone = not link_exists(name)
                if not gone and time.monotonic() > deadline:
                    try:
                        veth.detach(name)
                    except Exception as e:  # logged; the name is dropped either way
                        log.error("delete veth %s: %s", name, e)
                    gone = True
                if gone:
                    with self._cond:
                        self._pending.pop(name, None)
            time.sleep(self.poll)

    def settle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True
