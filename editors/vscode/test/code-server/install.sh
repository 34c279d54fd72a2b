#!/usr/bin/env bash
# Install code-server (pinned in package.json / package-lock.json) for the extension's
# end-to-end test, on Node 20 and a closed network:
#   - Debian's libkrb5-dev and build tools for the native modules VS Code builds, and
#     Debian's ripgrep (installed with apt-get when missing; needs root, as in CI);
#   - npm ci without scripts, then code-server's own install script. That script runs
#     npm in VS Code's tree, where @vscode/ripgrep's install would fetch a ripgrep
#     release from the network; it takes a cached archive first, so Debian's rg is put
#     where it looks (a TMPDIR of our own).
# Idempotent (skips when installed from the same lock and Node), quiet on success,
# loud on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

INSTALLER="editors/vscode/test/code-server/install.sh"
# shellcheck source=/dev/null
source "$here/../../../../tests/install-lib.sh"

key="$(sha256sum package-lock.json | cut -c1-64) $(node --version)"
stamp="node_modules/.ourocodus-install-stamp"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" && -x node_modules/.bin/code-server ]]; then
  exit 0
fi

debian_packages libkrb5-dev ripgrep make g++ python3

step "npm ci (no scripts yet)" npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# The ripgrep archive @vscode/ripgrep's installer looks for before downloading.
shrinkwrap=node_modules/code-server/lib/vscode/npm-shrinkwrap.json
rg_version="$(node -e 'const w=require(process.argv[1]);console.log(w.packages["node_modules/@vscode/ripgrep"].version)' "$PWD/$shrinkwrap")"
export TMPDIR="$here/.tmp"
mkdir -p "$TMPDIR/vscode-ripgrep-cache-$rg_version" "$here/.rg"
cp /usr/bin/rg "$here/.rg/rg"
# Which ripgrep release that version of @vscode/ripgrep fetches: read from its installer.
step "npm pack @vscode/ripgrep@$rg_version" npm pack --silent --pack-destination "$TMPDIR" "@vscode/ripgrep@$rg_version"
rg_release="$(tar xzOf "$TMPDIR/vscode-ripgrep-$rg_version.tgz" package/lib/postinstall.js | sed -n "s/^const VERSION = '\(v[^']*\)'.*/\1/p")"
[[ -n "$rg_release" ]] || fail "could not read the ripgrep release @vscode/ripgrep@$rg_version fetches"
tar czf "$TMPDIR/vscode-ripgrep-cache-$rg_version/ripgrep-$rg_release-x86_64-unknown-linux-musl.tar.gz" -C "$here/.rg" rg

# code-server's install script refuses root without unsafe-perm, and node-pty's runs npx.
export npm_config_unsafe_perm=true npm_config_yes=true
step "install scripts (code-server's builds VS Code's native modules)" npm rebuild --foreground-scripts
step "code-server runs" node_modules/.bin/code-server --version
printf '%s' "$key" >"$stamp"
