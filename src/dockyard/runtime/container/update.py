"""``update``: apply new ``linux.resources`` to a live container's cgroup."""

from __future__ import annotations

import json
import os
import sys

from dockyard.errors import InvalidArgument
from dockyard.runtime import state as st
from dockyard.runtime.container.delete import load_manager
from dockyard.runtime.process import modules


def read_resources(source: str) -> dict:
    """``-`` reads stdin, anything else is a file; the JSON must be an object."""
    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            with open(source) as f:
                text = f.read()
    except OSError as e:
        raise InvalidArgument(f"cannot read resources {source!r}: {e.strerror}") from None
    try:
        resources = json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"resources: not valid JSON: {e}") from None
    if not isinstance(resources, dict):
        raise InvalidArgument("resources: must be a JSON object (linux.resources)")
    return resources


def update(store: st.StateStore, container_id: str, resources: dict) -> None:
    lock = store.lock(container_id)
    try:
        c = store.load(container_id)
        st.can_kill(c.current_status())
        modules.cgroups().validate(resources)
        manager = load_manager(c)
        if manager is None:
            raise InvalidArgument(f"container {container_id!r} has no cgroup")
        manager.set(resources)
        linux = c.config.setdefault("linux", {})
        merged = dict(linux.get("resources") or {})
        for key, value in resources.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        linux["resources"] = merged
        store.save(c)
    finally:
        os.close(lock)
