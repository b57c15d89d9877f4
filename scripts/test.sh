#!/usr/bin/env bash
# Run dockyard's whole test suite (unit, integration as root, interop with real peers).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${DOCKYARD_VENV:-/opt/dockyard/venv}
exec "$VENV/bin/python" -m pytest "$@"
