"""``list``: every container under ``--root``, as a table, ids only or JSON."""

from __future__ import annotations

from dockyard.errors import DockyardError
from dockyard.runtime import state as st


def list_states(store: st.StateStore) -> list[dict]:
    out = []
    for cid in store.ids():
        try:
            out.append(store.load(cid).oci())
        except DockyardError:
            continue  # deleted meanwhile, or being created
    return out


def format_table(states: list[dict]) -> str:
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    for s in states:
        rows.append((s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"],
                     s.get("owner") or "root"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True))
                     .rstrip() for r in rows) + "\n"
