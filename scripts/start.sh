#!/usr/bin/env bash
# Installs SalesDesk in its own virtual environment (.venv) and starts it.
#   bash scripts/start.sh [salesdesk arguments, e.g. --db URL]
# First start: the embedded SQLite floor with a demo team. Running it again
# updates the install (quickly, when nothing changed) and starts SalesDesk.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_setup.sh

# What Qt's window system plugin (xcb) needs on Linux; desktops have most of them.
install_debs libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
  libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 \
  libxcb-render-util0 libxcb-image0 libxcb-xinerama0
make_venv
export PATH="$PWD/$VENV/bin:$PATH"  # what the tests (or the app) start by name is ours
# setuptools warns at length about editable installs in general; pip still reports errors.
PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e .
exec "$VENV/bin/salesdesk" "$@"
