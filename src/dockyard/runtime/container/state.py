"""``state``: the container's OCI state document, status checked against the kernel."""

from __future__ import annotations

from dockyard.runtime import state as st


def state(store: st.StateStore, container_id: str) -> dict:
    c = store.load(container_id)
    return c.oci()
