#!/usr/bin/env bash
# Install what the web monitor's browser test needs: node_modules from
# package-lock.json (npm ci: playwright-core, pinned) and Debian's Chromium
# (/usr/bin/chromium; installed with apt-get when missing, which needs root, as in
# CI). Never a downloaded browser. Idempotent, callable from any directory, quiet on
# success, loud on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

INSTALLER="tests/monitor/install.sh"
# shellcheck source=/dev/null
source "$here/../install-lib.sh"
command -v node >/dev/null || fail "node not found on PATH"
command -v npm >/dev/null || fail "npm not found on PATH"

debian_packages chromium
step "chromium runs" /usr/bin/chromium --headless --no-sandbox --disable-gpu --version
step "npm ci" npm ci --no-audit --no-fund --loglevel=error
