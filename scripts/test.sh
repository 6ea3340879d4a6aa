#!/usr/bin/env bash
# Every check hvlab has, in order of cost: lint, unit tests, molecule scenarios.
# Run through ./bootstrap.sh test, which puts the venv on PATH.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

# The end-to-end `lab` scenario (both machines at once, 80+ minutes under TCG) is
# run on its own: HVLAB_SCENARIOS=lab ./bootstrap.sh test; so is `cloud_image` (a whole-disk
# cloud-image stand-in by URL, booted through its own bootloader; 3227 s here). `smoke` is not in the default
# list either: kvm_host's verify runs its tests on its own machine, one boot fewer.
# Each scenario's platforms name their Debian release, firmware and image (Debian 13, UEFI,
# one with Secure Boot). The older combination, Debian 12 through a BIOS:
#   HVLAB_TEST_RELEASE=12 HVLAB_TEST_FIRMWARE=bios \
#   HVLAB_SCENARIOS="kvm_host xen_host" ./bootstrap.sh test
# xen_host's prepare step is the fallback drill (a Xen whose Dom0 cannot come up), on the
# same machine that then becomes a Xen host: one machine boot and one Xen install fewer.
# xen_host_boot_drill (xen_host plus a changed Dom0 argument's verified one-shot boot,
# about 12 minutes more) is not in the default list either.
# kvm_host's machine enforces Secure Boot, and xen_host's refusal of it is checked there too.
SCENARIOS=(${HVLAB_SCENARIOS:-kvm_host xen_host})

step() { printf '\n==> %s\n' "$*"; }

# Test machines live in their own state dir, so a test run never stops or
# removes the machines of a lab you have up (the shared image cache is read-only).
export HVLAB_STATE_DIR="${HVLAB_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/hvlab-test}"
trap 'hvlab vlab down >/dev/null 2>&1 || true' EXIT

step "ruff"
ruff check src tests benchmarks molecule plugins roles scripts

step "ansible-lint --profile production"
ansible-lint --offline --profile production

step "unit tests"
set +e
# One process per core; a test file stays in one process, so a file's tests keep their order.
pytest -q -n 2 --dist loadfile tests
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "pytest collected no unit tests: failing" >&2; exit 1; fi
[ "$rc" -eq 0 ] || exit "$rc"

step "lab images"
# What each scenario's platforms boot (bare or prepared for the machine's stack, the guest
# image disk), read from their molecule.yml: built here, once, before lanes boot machines at once.
builds=$(python scripts/scenario_lanes.py --builds "${SCENARIOS[@]}")
while read -r args; do
    # shellcheck disable=SC2086 # one line: the options and the machine name, space-separated
    hvlab vlab up --no-inventory --build-only $args
done <<<"$builds"

# Scenarios that boot no machine of the same name run side by side, in lanes: on two cores
# one lane's emulated machine installs packages while the other's reboots or waits.
# Each line of a lane's output starts with its scenario's name.
# A scenario that runs past HVLAB_SCENARIO_LIMIT_S (a lab machine that hangs) is stopped with its
# children, and its machines' serial consoles are shown: a failure that says where, before
# CI's own deadline would cut the run off without a word. The default limit, 70 minutes, is
# for the default scenarios (CI's); scenarios named in HVLAB_SCENARIOS (lab takes 80+
# minutes) have none unless HVLAB_SCENARIO_LIMIT_S gives one (0: none).
if [ -n "${HVLAB_SCENARIOS:-}" ]; then default_limit=0; else default_limit=4200; fi
SCENARIO_LIMIT_S=${HVLAB_SCENARIO_LIMIT_S:-$default_limit}
run_lane() {
    local scenario started machine
    for scenario in "$@"; do
        started=$SECONDS
        if ! timeout -k 60 "$SCENARIO_LIMIT_S" molecule test -s "$scenario" 2>&1 | sed -u "s/^/[$scenario] /"; then
            echo "molecule test -s $scenario: FAILED after $((SECONDS - started)) s (limit $SCENARIO_LIMIT_S s)"
            for machine in $(python scripts/scenario_lanes.py --machines "$scenario"); do
                echo "[$scenario] the end of $machine's serial console:"
                hvlab vlab console-log --lines 60 "$machine" 2>&1 | sed -u "s/^/[$scenario] /" || true
            done
            return 1
        fi
        echo "molecule test -s $scenario: $((SECONDS - started)) s"
    done
}

lane_list=$(python scripts/scenario_lanes.py "${SCENARIOS[@]}")
mapfile -t lanes <<<"$lane_list"
step "molecule, ${#lanes[@]} lane(s): ${lanes[*]/%/;}"
started=$SECONDS
pids=()
for lane in "${lanes[@]}"; do
    # shellcheck disable=SC2086 # a lane is a space-separated list of scenario names
    run_lane $lane &
    pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
echo "molecule, all lanes: $((SECONDS - started)) s"
exit "$failed"
