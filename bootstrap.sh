#!/usr/bin/env bash
# hvlab set-up and entry points for a fresh Debian/Ubuntu machine.
#   ./bootstrap.sh up     install what hvlab needs, then run the main job on the virtual lab
#   ./bootstrap.sh test   install what hvlab needs, then run every check and test
# As root it installs the apt packages itself; otherwise it says what to install.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

APT_PACKAGES=(python3 python3-venv qemu-system-x86 qemu-utils mmdebstrap parted e2fsprogs dosfstools mtools ovmf openssh-client chromium fonts-dejavu-core)

ensure_apt_packages() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
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

ensure_venv() {
    local stamp=.venv/.hvlab-installed
    local want
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    [ -x .venv/bin/python ] || python3 -m venv .venv
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        .venv/bin/pip install -q --upgrade pip
        .venv/bin/pip install -q -e ".[test]"
        echo "$want" > "$stamp"
    fi
}

ensure_apt_packages
ensure_venv
export PATH="$PWD/.venv/bin:$PATH"

case "${1:-}" in
    up) shift; exec hvlab up "$@" ;;
    test) shift; exec ./scripts/test.sh "$@" ;;
    *) echo "usage: $0 up|test" >&2; exit 2 ;;
esac
