# install-lib.sh: what the suites' install scripts share (sourced, not run): `fail`, a
# quiet `step` that shows a failing command's output, and `debian_packages`, which
# installs the Debian packages that are missing (as root, as in CI). The script that
# sources it sets INSTALLER, its own name in messages, first.

fail() { echo "$INSTALLER: $*" >&2; exit 1; }

install_log="$(mktemp)"
trap 'rm -f "$install_log"' EXIT

step() { # step DESCRIPTION CMD...: run quietly; on failure show the output and stop
  local what="$1"; shift
  if ! "$@" >"$install_log" 2>&1; then
    echo "$INSTALLER: FAILED: $what ($*)" >&2
    tail -n 200 "$install_log" >&2
    exit 1
  fi
}

debian_packages() { # debian_packages PKG...: install those not installed yet
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  [[ "$(id -u)" == 0 ]] || fail "missing Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  # A clean machine's package lists may be missing or stale: refresh them only if the install needs it.
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$install_log" 2>&1; then
    step "apt-get update" apt-get update -q
    step "apt-get install ${missing[*]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}
