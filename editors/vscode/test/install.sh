#!/usr/bin/env bash
# Install what the extension's suites need: node_modules from package-lock.json (npm ci)
# and, for the panel's browser test, Debian's Chromium (/usr/bin/chromium; installed with
# apt-get when missing, which needs root, as in CI). Never a downloaded browser.
# Idempotent, callable from any directory, quiet on success, loud on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

fail() { echo "editors/vscode/test/install.sh: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node not found on PATH"
command -v npm >/dev/null || fail "npm not found on PATH"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
step() { # step DESCRIPTION CMD...: run quietly; on failure show the output and stop
  local what="$1"; shift
  if ! "$@" >"$log" 2>&1; then
    echo "editors/vscode/test/install.sh: FAILED: $what ($*)" >&2
    cat "$log" >&2
    exit 1
  fi
}

if [[ ! -x /usr/bin/chromium ]]; then
  [[ "$(id -u)" == 0 ]] || fail "Chromium is missing: install Debian's chromium package (as root: apt-get install chromium)"
  export DEBIAN_FRONTEND=noninteractive
  # A clean machine's package lists may be missing or stale: refresh them only if the install needs it.
  if ! apt-get install -y -q --no-install-recommends chromium >"$log" 2>&1; then
    step "apt-get update" apt-get update -q
    step "apt-get install chromium" apt-get install -y -q --no-install-recommends chromium
  fi
fi
step "chromium runs" /usr/bin/chromium --headless --no-sandbox --disable-gpu --version
step "npm ci" npm ci --no-audit --no-fund --loglevel=error
