"""hvlab up's stage tracking: one line per play, each play timed, failures said at once."""

import json
from pathlib import Path

import pytest

from hvlab.errors import HvlabError
from hvlab.pipeline import StageClock, follow, latest_comparison

OUTPUT = """
PLAY [KVM hosts] ***************************************************************

TASK [kvm_host : Install packages] *********************************************
ok: [kvm1]

PLAY [Xen hosts] ***************************************************************

TASK [xen_host : Reboot into Xen] **********************************************
fatal: [xen1]: FAILED! => {"msg": "Dom0 did not come up"}

PLAY RECAP *********************************************************************
kvm1 : ok=1 changed=0
""".splitlines(keepends=True)


def test_each_play_is_announced_timed_and_logged() -> None:
    said: list[str] = []
    logged: list[str] = []
    ticks = iter([0.0, 100.0, 160.5])
    clock = StageClock()
    follow(OUTPUT, clock, said.append, logged.append, now=lambda: next(ticks))
    assert logged == OUTPUT
    assert clock.stages == [{"stage": "KVM hosts", "seconds": 100.0}, {"stage": "Xen hosts", "seconds": 60.5}]
    assert said == [
        "stage: KVM hosts",
        "done in 100 s: KVM hosts",
        "stage: Xen hosts",
        'fatal: [xen1]: FAILED! => {"msg": "Dom0 did not come up"}',
        "done in 60 s: Xen hosts",
    ]
    assert clock.current is None


def test_a_play_name_with_brackets_is_kept_whole() -> None:
    clock = StageClock()
    said: list[str] = []
    follow(["PLAY [Guests [kvm]] ****\n", "PLAY RECAP ***\n"], clock, said.append, lambda _line: None,
           now=iter([1.0, 2.0]).__next__)
    assert clock.stages == [{"stage": "Guests [kvm]", "seconds": 1.0}]


def test_latest_comparison_is_the_newest_directory_holding_one(tmp_path: Path) -> None:
    for name, lab in (("20261201-100000", {"schema": "hvlab.lab/1"}), ("20261202-100000", {"schema": "hvlab.lab/1"}),
                      ("20261203-100000", {"schema": "not.hvlab/1"})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "lab.json").write_text(json.dumps(lab))
    (tmp_path / "20261204-100000").mkdir()  # a run that failed before the comparison began
    assert latest_comparison(tmp_path) == tmp_path / "20261202-100000"


def test_latest_comparison_without_one_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(HvlabError, match="run hvlab up first"):
        latest_comparison(tmp_path / "results")
