"""``dockyard``: the docker-compatible command line.

For now it routes the verbs that exist (``runtime`` passthrough and image commands
as they land); the daemon issue makes it a thin HTTP client of ``dockyardd``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print("usage: dockyard COMMAND [ARGS...]\n\n"
              "The daemon-backed commands arrive with dockyardd; use dockyard-runtime "
              "for OCI bundles today.")
        return 0
    print(f"dockyard: '{args[0]}' is not a dockyard command yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
