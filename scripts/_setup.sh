# Shared by start.sh and test.sh (sourced, not run): the system libraries Qt
# needs and a virtual environment of SalesDesk's own, so nothing is installed
# into the system's Python (Debian and Ubuntu refuse that: PEP 668).

PY=${PYTHON:-python3}
VENV=${SALESDESK_VENV:-.venv}

# install_debs PACKAGE... — apt-get install the ones missing (Debian/Ubuntu; sudo when not root).
install_debs() {
  command -v dpkg >/dev/null 2>&1 || return 0
  local missing="" pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  [ -n "$missing" ] || return 0
  echo "installing system packages:$missing"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
}

# make_venv — create $VENV once (with pip in it); Debian's Python needs python3-venv for that.
make_venv() {
  [ -x "$VENV/bin/python" ] && return 0
  if ! "$PY" -c "import ensurepip, venv" >/dev/null 2>&1; then
    install_debs python3-venv
  fi
  echo "creating the virtual environment $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
}
