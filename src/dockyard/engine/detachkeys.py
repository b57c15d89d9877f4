"""Docker's detach keys: ``ctrl-p,ctrl-q`` (the default) or ``a,ctrl-x,...``.

A sequence typed on an attached stdin ends the session without stopping the
process. :class:`DetachScanner` passes input through, holding back only what may
still become the sequence.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

DEFAULT = "ctrl-p,ctrl-q"
_CTRL_SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def to_bytes(keys: str) -> bytes:
    """docker's rule: comma-separated single characters or ``ctrl-<a-z@[\\]^_,>``."""
    out = bytearray()
    for key in keys.split(","):
        key = key.strip()
        low = key.lower()
        if len(key) == 1:
            out.append(ord(key))
        elif low.startswith("ctrl-") and len(key) == 6:
            ch = low[5]
            if "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
            elif ch in _CTRL_SPECIAL:
                out.append(_CTRL_SPECIAL[ch])
            elif ch == ",":
                out.append(12)
            else:
                raise InvalidArgument(f"Invalid escape keys ({keys}) provided")
        else:
            raise InvalidArgument(f"Invalid escape keys ({keys}) provided")
    if not out:
        raise InvalidArgument(f"Invalid escape keys ({keys}) provided")
    return bytes(out)


class DetachScanner:
    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = b""
        self.detached = False

    def feed(self, data: bytes) -> bytes:
        """What to pass on; sets ``detached`` once the whole sequence was typed."""
        out = bytearray()
        for byte in data:
            if self.detached:
                break
            candidate = self._held + bytes([byte])
            if self.keys.startswith(candidate):
                if candidate == self.keys:
                    self.detached = True
                    self._held = b""
                else:
                    self._held = candidate
                continue
            out += self._held
            self._held = b""
            if self.keys.startswith(bytes([byte])):
                self._held = bytes([byte])
                if self._held == self.keys:
                    self.detached = True
                    self._held = b""
            else:
                out.append(byte)
        return bytes(out)


__all__ = ["DEFAULT", "DetachScanner", "to_bytes"]
