"""Group molecule scenarios into lanes that run side by side.

The virtual lab names its machines (kvm1, xen1), each with a fixed SSH port and disk, so two
scenarios that boot a machine of the same name cannot run at once; scenarios that share no
machine can, and on two cores the second lane fills the time the first spends waiting on a
single-threaded dpkg or a reboot. The machine names are read from each scenario's
molecule.yml, the one place they are written.

Prints one lane per line, its scenarios in the order given: the test script runs a lane's
scenarios one after the other and the lanes at the same time.
"""

import re
import sys
from pathlib import Path

import yaml

MOLECULE_DIR = Path(__file__).resolve().parent.parent / "molecule"
SCENARIO_NAME = re.compile(r"[A-Za-z0-9_-]+")


def machines(scenario: str, molecule_dir: Path = MOLECULE_DIR) -> frozenset[str]:
    """The lab machine names the scenario's platforms boot."""
    path = molecule_dir / scenario / "molecule.yml"
    if not SCENARIO_NAME.fullmatch(scenario) or not path.is_file():
        raise SystemExit(f"scenario_lanes: no scenario {scenario!r} ({path} is missing)")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return frozenset(platform["name"] for platform in config.get("platforms", []))


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
    for lane in lanes(argv):
        print(" ".join(lane))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
