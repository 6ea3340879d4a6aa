#!/usr/bin/env bash
# hvlab set-up and entry points for a fresh Debian/Ubuntu machine.
#   ./bootstrap.sh up     install what hvlab needs, then run the main job on the virtual lab
#   ./bootstrap.sh test   install what hvlab needs, then run every check and test
# As root it installs the apt packages itself; otherwise it says what to install.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

# The main job's packages; `test` adds the browser the report's browser test drives.
APT_PACKAGES=(python3 python3-venv qemu-system-x86 qemu-utils mmdebstrap parted e2fsprogs dosfstools mtools ovmf openssh-client)
TEST_APT_PACKAGES=(chromium fonts-dejavu-core grub-pc-bin)

# Installs the packages named as arguments that are missing.
ensure_apt_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "hvlab needs these packages; install them, then run again:" >&2
        echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}" >&2
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Installs hvlab into .venv, with the test tools when asked ($1: "main" or "test"). The stamp
# holds pyproject.toml's sha256 and what was installed; a venv with the test tools serves `up` too.
ensure_venv() {
    local stamp=.venv/.hvlab-installed
    local sha have
    sha=$(sha256sum pyproject.toml | cut -d' ' -f1)
    have=$(cat "$stamp" 2>/dev/null || true)
    [ -x .venv/bin/python ] || python3 -m venv .venv
    if [ "$have" != "$sha test" ] && { [ "$1" = test ] || [ "$have" != "$sha main" ]; }; then
        .venv/bin/pip install -q --upgrade pip
        if [ "$1" = test ]; then .venv/bin/pip install -q -e ".[test]"; else .venv/bin/pip install -q -e .; fi
        echo "$sha $1" > "$stamp"
    fi
}

# Everything a command needs before it runs ($1: "main" or "test"; the rest: extra apt packages).
prepare() {
    local kind=$1
    shift
    ensure_apt_packages "${APT_PACKAGES[@]}" "$@"
    ensure_venv "$kind"
    export PATH="$PWD/.venv/bin:$PATH"
}

case "${1:-}" in
    up) prepare main; shift; exec hvlab up "$@" ;;
    test) prepare test "${TEST_APT_PACKAGES[@]}"; shift; exec ./scripts/test.sh "$@" ;;
    *) echo "usage: $0 up|test" >&2; exit 2 ;;
esac
