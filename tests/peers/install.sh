#!/usr/bin/env bash
# Install the third-party ACP peers the tests run against:
#   node_modules/  from package.json + package-lock.json (npm ci)
#   .venv/         from requirements.txt (python3 -m venv + pip)
# Idempotent (skips what is already installed from the same lock and runtime), callable from
# any directory, quiet on success, loud on failure (prints the failing step's output, exits 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

INSTALLER="tests/peers/install.sh"
# shellcheck source=/dev/null
source "$here/../install-lib.sh"
command -v node >/dev/null || fail "node not found on PATH"
command -v npm >/dev/null || fail "npm not found on PATH"
command -v python3 >/dev/null || fail "python3 not found on PATH"

# One install at a time (parallel test jobs may call this together).
exec 9>"$here/.install.lock"
flock 9


# --- node peers -------------------------------------------------------------------------
node_key="$(sha256sum package.json package-lock.json .npmrc | sha256sum | cut -c1-64) node-$(node --version)"
node_stamp=node_modules/.ourocodus-install-stamp
if [[ ! -f "$node_stamp" || "$(cat "$node_stamp")" != "$node_key" ]]; then
  rm -f "$node_stamp"
  step "npm ci" npm ci --no-audit --no-fund --loglevel=error
  # tsx must really transpile and run TypeScript (esbuild binary present and working).
  step "tsx smoke test" node_modules/.bin/tsx --eval 'const n: number = 1; if (n !== 1) process.exit(1)'
  for f in node_modules/@zed-industries/agent-client-protocol/typescript/examples/agent.ts \
           node_modules/@agentclientprotocol/sdk/schema/v1/schema.json \
           node_modules/@agentclientprotocol/claude-agent-acp/dist/index.js; do
    [[ -f "$f" ]] || fail "missing after npm ci: tests/peers/$f"
  done
  printf '%s' "$node_key" >"$node_stamp"
fi

# --- python peer ------------------------------------------------------------------------
py_key="$(sha256sum requirements.txt | cut -c1-64) $(python3 -c 'import sys; print(sys.version.split()[0])')"
py_stamp=.venv/.ourocodus-install-stamp
if [[ ! -f "$py_stamp" || "$(cat "$py_stamp")" != "$py_key" ]]; then
  rm -rf .venv
  step "create venv" python3 -m venv .venv
  step "pip install" .venv/bin/python -m pip install --disable-pip-version-check --no-input -q \
    -r requirements.txt
  step "pip check" .venv/bin/python -m pip check
  step "import acp" .venv/bin/python -c 'import acp, importlib.metadata as m; assert m.version("agent-client-protocol") == "0.12.1"'
  printf '%s' "$py_key" >"$py_stamp"
fi
