"""``dockyardd``: the daemon serving the Docker Engine API (arrives with the daemon issue)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("dockyardd: the Docker Engine API daemon is not built yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
