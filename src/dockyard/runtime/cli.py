"""``dockyard-runtime``: runc's command line (being built; see issue 2)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("dockyard-runtime: not built yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
