"""Names for containers created without ``--name``: ``adjective_surname``, docker-like.

dockyard's own word lists, on a harbour theme: sea-weather adjectives and the
surnames of navigators, hydrographers, oceanographers and shipwrights. A taken name
is retried with a digit appended (as docker does after its first attempt), then with
more random digits, so the call always ends.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

__all__ = ["ADJECTIVES", "SURNAMES", "generate_name"]

ADJECTIVES: tuple[str, ...] = (
    "anchored", "ashore", "becalmed", "billowing", "blustery", "brackish", "breezy",
    "briny", "buoyant", "coastal", "coral", "drifting", "ebbing", "finned", "flooding",
    "foamy", "gleaming", "glassy", "gusty", "hazy", "leeward", "lucent", "marine",
    "misty", "moored", "nautical", "pearly", "pelagic", "rippling", "roaming",
    "rolling", "salty", "seaworthy", "shimmering", "shoaling", "sheltered", "sleek",
    "spirited", "squally", "starlit", "steadfast", "stormy", "sunlit", "surging",
    "swelling", "tidal", "trim", "undocked", "weathered", "windward",
)

SURNAMES: tuple[str, ...] = (
    "ballard", "banks", "beaufort", "bering", "bligh", "bougainville", "brunel",
    "cabot", "cartier", "cook", "cousteau", "dampier", "drake", "earle", "ericsson",
    "fitzroy", "flinders", "fulton", "gama", "hudson", "heyerdahl", "humboldt", "laperouse",
    "magellan", "malaspina", "maury", "mercator", "nansen", "nares", "pytheas",
    "piccard", "polo", "parry", "raleigh", "ross", "scoresby", "shackleton",
    "smeaton", "stommel", "sverdrup", "tasman", "bowditch", "vancouver", "verrazzano",
    "vespucci", "walsh", "weddell", "wilkes", "majid", "zheng",
)


def _pick(seq: tuple[str, ...]) -> str:
    return seq[secrets.randbelow(len(seq))]


def generate_name(taken: Callable[[str], bool]) -> str:
    """A name for which ``taken(name)`` is False (``taken`` sees names without "/")."""
    for attempt in range(6):
        name = f"{_pick(ADJECTIVES)}_{_pick(SURNAMES)}"
        if attempt:
            name += str(secrets.randbelow(10))
        if not taken(name):
            return name
    while True:
        name = f"{_pick(ADJECTIVES)}_{_pick(SURNAMES)}{secrets.token_hex(3)}"
        if not taken(name):
            return name
