#!/usr/bin/env bash
# Install everything dockyard and its tests need on Debian 12 (as root), then run
# the main job: a real container workload. `--no-demo` skips the workload.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${DOCKYARD_VENV:-/opt/dockyard/venv}
APT_PACKAGES=(
  # runtime and images
  busybox-static libseccomp2 iproute2 nftables iptables util-linux kmod file psmisc debootstrap pigz tini
  # python for the venv on a stock Debian
  python3 python3-venv python3-pip
  # peers for side-by-side and interop tests
  runc docker.io skopeo umoci oci-image-tool docker-registry apache2-utils openssl
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs packages and manages kernel objects)" >&2
  exit 1
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test]"
# An editable install has no bytecode yet, and PYTHONDONTWRITEBYTECODE may be set:
# compile once so every dockyard-runtime start doesn't recompile its modules.
"$VENV/bin/python" -m compileall -q src >/dev/null
for tool in dockyard dockyardd dockyard-runtime; do
  ln -sf "$VENV/bin/$tool" "/usr/local/sbin/$tool"
done

if [ "${1:-}" != "--no-demo" ]; then
  exec "$VENV/bin/python" scripts/demo.py
fi
