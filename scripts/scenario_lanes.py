"""Group molecule scenarios into lanes that run side by side.

The virtual lab names its machines (kvm1, xen1), each with a fixed SSH port and disk, so two
scenarios that boot a machine of the same name cannot run at once; scenarios that share no
machine can, and on two cores the second lane fills the time the first spends waiting on a
single-threaded dpkg or a reboot. The machine names are read from each scenario's
molecule.yml, the one place they are written.

Prints one lane per line, its scenarios in the order given: the test script runs a lane's
scenarios one after the other and the lanes at the same time.

With --builds first, prints instead the `hvlab vlab up --build-only` arguments of every
platform of the scenarios, one machine per line, so the test script builds each image the lanes
will boot (bare or prepared for the machine's stack, the guest image disk) from what the
scenarios' molecule.yml say, before two lanes would build the same image at once.

With --machines SCENARIO, prints the names of the machines it boots, one per line (whose serial
consoles the test script shows when the scenario fails).
"""

import os
import re
import sys
from pathlib import Path

import yaml

MOLECULE_DIR = Path(__file__).resolve().parent.parent / "molecule"
SCENARIO_NAME = re.compile(r"[A-Za-z0-9_-]+")


def platforms(scenario: str, molecule_dir: Path = MOLECULE_DIR) -> list[dict[str, object]]:
    """The scenario's platforms, as its molecule.yml lists them."""
    path = molecule_dir / scenario / "molecule.yml"
    if not SCENARIO_NAME.fullmatch(scenario) or not path.is_file():
        raise SystemExit(f"scenario_lanes: no scenario {scenario!r} ({path} is missing)")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(config.get("platforms", []))


def machines(scenario: str, molecule_dir: Path = MOLECULE_DIR) -> frozenset[str]:
    """The lab machine names the scenario's platforms boot."""
    return frozenset(str(platform["name"]) for platform in platforms(scenario, molecule_dir))


def build_args(scenarios: list[str], molecule_dir: Path = MOLECULE_DIR,
               env: dict[str, str] | None = None) -> list[list[str]]:
    """Per platform, the `hvlab vlab up --build-only` arguments of the boot molecule's create
    step asks for (molecule/shared/create.yml: HVLAB_TEST_RELEASE / HVLAB_TEST_FIRMWARE
    override every platform's release and firmware), each distinct list once."""
    env = os.environ if env is None else env
    found: dict[tuple[str, ...], None] = {}
    for scenario in scenarios:
        for platform in platforms(scenario, molecule_dir):
            release = env.get("HVLAB_TEST_RELEASE") or platform.get("release")
            firmware = env.get("HVLAB_TEST_FIRMWARE") or platform.get("firmware")
            args = ([f"--release={release}"] if release else []) + ([f"--firmware={firmware}"] if firmware else [])
            args += [f"--image={platform['image']}"] if platform.get("image") else []
            args += ["--guest-image"] if platform.get("guest_image") else []
            found[(*args, str(platform["name"]))] = None
    return [list(args) for args in found]


def lanes(scenarios: list[str], molecule_dir: Path = MOLECULE_DIR) -> list[list[str]]:
    """Scenarios joined into one lane when they share a machine, directly or through others."""
    groups: list[tuple[frozenset[str], list[str]]] = []
    for scenario in scenarios:
        names = machines(scenario, molecule_dir)
        sharing = [group for group in groups if group[0] & names]
        for group in sharing:
            groups.remove(group)
            names |= group[0]
        members = [s for group in sharing for s in group[1]] + [scenario]
        groups.append((names, sorted(members, key=scenarios.index)))
    return sorted((members for _, members in groups), key=lambda members: scenarios.index(members[0]))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--builds"]:
        for args in build_args(argv[1:]):
            print(" ".join(args))
        return 0
    if argv[:1] == ["--machines"] and len(argv) == 2:
        for name in sorted(machines(argv[1])):
            print(name)
        return 0
    for lane in lanes(argv):
        print(" ".join(lane))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
