"""The guest deploy benchmark reads where the time went from profile_tasks' recap."""

from plugin_loader import load_plugin

bench = load_plugin("benchmarks/guest_deploy.py", "guest_deploy_bench")

# The shape profile_tasks prints (80 columns when not on a terminal), behind a play's own lines.
OUTPUT = """\
TASK [guests : Wait for every guest's SSH (from its host, on the guest network)] ***
ok: [kvm1] => (item=bench0 192.168.122.10)
changed: [kvm1] => (item=took 12.34s)

PLAY RECAP *********************************************************************
kvm1                       : ok=52   changed=9    unreachable=0    failed=0

Tuesday 01 December 2026  22:10:03 +0000 (0:00:01.234)       0:07:38.010 ******
===============================================================================
guests : Wait for every guest's SSH (from its host, on the guest network)  1234.56s
guests : Create the guests' linked-clone disks ------------------------- 41.20s
guests : Start the domains ---------------------------------------------- 9.05s
"""


def test_slowest_tasks_come_from_the_recap_slowest_first() -> None:
    assert bench.slowest_tasks(OUTPUT) == [
        ("guests : Wait for every guest's SSH (from its host, on the guest network)", 1234.56),
        ("guests : Create the guests' linked-clone disks", 41.20),
        ("guests : Start the domains", 9.05),
    ]


def test_slowest_tasks_keeps_only_the_first_few() -> None:
    assert [task for task, _ in bench.slowest_tasks(OUTPUT, count=1)] == [
        "guests : Wait for every guest's SSH (from its host, on the guest network)"]


def test_no_recap_means_no_tasks() -> None:
    assert bench.slowest_tasks("changed: [kvm1] => (item=took 12.34s)\n") == []
