"""Reading a results dir: every bad file is named as a problem and the rest is still read."""

import json
from pathlib import Path

import pytest
from report_fixture import WORKLOADS, host_probe, write_json, write_results

from hvlab.errors import HvlabError
from hvlab.report.load import load_results
from hvlab.report.model import Results


def problems(results: Results) -> dict[str, str]:
    return {p.file: p.message for p in results.problems}


def test_a_complete_results_dir_has_no_problem(tmp_path: Path) -> None:
    results = load_results(write_results(tmp_path))
    assert results.problems == []
    assert len(results.runs) == 2 * 5 * len(WORKLOADS)
    assert [r.file for r in results.runs if not r.ok] == ["runs/xen__g1__network__r3.json"]
    assert {h.name for h in results.hosts} == {"kvm1", "xen1"}
    assert {(g.stack, g.name) for g in results.guests} == {("kvm", "g1"), ("xen", "g1")}
    assert results.workloads() == ["cpu", "memory", "disk_randread_4k", "disk_seqwrite_1m", "network", "boot"]


def test_corrupt_json_is_named_and_the_rest_is_read(tmp_path: Path) -> None:
    write_results(tmp_path)
    (tmp_path / "runs" / "kvm__g1__cpu__r2.json").write_text('{"schema": "hvlab.run/1", ')
    (tmp_path / "probes" / "host__xen1.json").write_text("[1, 2]")
    results = load_results(tmp_path)
    found = problems(results)
    assert found["runs/kvm__g1__cpu__r2.json"].startswith("not valid JSON")
    assert found["probes/host__xen1.json"] == "must hold a JSON object, not list"
    # The gap it leaves is that file, named once; the missing host probe is said; every other file is there.
    assert [name for name in found if name.startswith("runs/")] == ["runs/kvm__g1__cpu__r2.json"]
    assert "no xen host probe" in found["probes/host__*.json"]
    assert len(results.runs) == 2 * 5 * len(WORKLOADS) - 1
    assert [h.name for h in results.hosts] == ["kvm1"]


def test_missing_and_wrong_fields_are_all_named_in_one_problem(tmp_path: Path) -> None:
    write_results(tmp_path)
    path = tmp_path / "runs" / "xen__g1__memory__r1.json"
    record = json.loads(path.read_text())
    del record["workload"], record["unit"]
    record |= {"repeat": "one", "stack": "vmware", "value": True}
    write_json(path, record)
    message = problems(load_results(tmp_path))["runs/xen__g1__memory__r1.json"]
    for fault in ("workload is missing", "unit is missing", "repeat must be an integer, got 'one'",
                  "stack must be one of kvm, xen, got 'vmware'", "value must be a number, got True"):
        assert fault in message


def test_a_wrong_schema_is_a_problem(tmp_path: Path) -> None:
    write_results(tmp_path)
    path = tmp_path / "probes" / "guest__kvm__g1.json"
    write_json(path, json.loads(path.read_text()) | {"schema": "hvlab.probe/0"})
    results = load_results(tmp_path)
    assert "schema must be 'hvlab.probe/1'" in problems(results)["probes/guest__kvm__g1.json"]
    assert [(g.stack, g.name) for g in results.guests] == [("xen", "g1")]


def test_a_failed_run_needs_no_measurement_and_is_kept(tmp_path: Path) -> None:
    write_results(tmp_path)
    path = tmp_path / "runs" / "kvm__g1__boot__r4.json"
    write_json(path, {"schema": "hvlab.run/1", "stack": "kvm", "guest": "g1", "workload": "boot", "repeat": 4,
                      "status": "failed", "error": "guest did not answer within 300 s"})
    results = load_results(tmp_path)
    assert results.problems == []
    failed = [r for r in results.runs if r.file == "runs/kvm__g1__boot__r4.json"]
    assert [(r.status, r.value, r.error) for r in failed] == [("failed", None, "guest did not answer within 300 s")]


def test_an_ok_run_without_a_value_is_a_problem(tmp_path: Path) -> None:
    write_results(tmp_path)
    path = tmp_path / "runs" / "kvm__g1__cpu__r1.json"
    write_json(path, json.loads(path.read_text()) | {"value": None})
    assert problems(load_results(tmp_path))["runs/kvm__g1__cpu__r1.json"] == "value is missing"


def test_probe_data_fields_may_all_be_missing(tmp_path: Path) -> None:
    write_results(tmp_path)
    write_json(tmp_path / "probes" / "host__kvm1.json",
               {"schema": "hvlab.probe/1", "kind": "host", "stack": "kvm", "name": "kvm1"})
    results = load_results(tmp_path)
    assert results.problems == []
    assert [h.data for h in results.hosts if h.name == "kvm1"] == [{}]


def test_what_a_probe_could_not_collect_is_a_problem(tmp_path: Path) -> None:
    write_results(tmp_path)
    probe = host_probe("xen")
    probe["data"] |= {"xl_info": None, "errors": ["xl info exited with 1: permission denied"]}
    write_json(tmp_path / "probes" / "host__xen1.json", probe)
    results = load_results(tmp_path)
    assert problems(results) == {"probes/host__xen1.json": "the probe could not collect: xl info exited with 1: "
                                                           "permission denied"}
    assert [h.name for h in results.hosts] == ["kvm1", "xen1"]


def test_a_missing_lab_json_is_a_problem_not_an_error(tmp_path: Path) -> None:
    write_results(tmp_path)
    (tmp_path / "lab.json").unlink()
    results = load_results(tmp_path)
    assert results.lab is None
    assert problems(results)["lab.json"].startswith("missing")
    assert len(results.runs) == 2 * 5 * len(WORKLOADS)


def test_a_run_with_another_unit_is_not_mixed_in(tmp_path: Path) -> None:
    write_results(tmp_path)
    path = tmp_path / "runs" / "xen__g1__cpu__r5.json"
    write_json(path, json.loads(path.read_text()) | {"unit": "events/min"})
    results = load_results(tmp_path)
    assert "differs from runs/" in problems(results)["runs/xen__g1__cpu__r5.json"]
    assert "runs/xen__g1__cpu__r5.json" not in {r.file for r in results.runs}


def test_a_workload_on_one_stack_only_is_said(tmp_path: Path) -> None:
    write_results(tmp_path)
    for path in (tmp_path / "runs").glob("xen__g1__boot__*.json"):
        path.unlink()
    lab = json.loads((tmp_path / "lab.json").read_text())
    del lab["repeats"]
    write_json(tmp_path / "lab.json", lab)
    assert problems(load_results(tmp_path))["runs/xen__g1__boot__r*.json"] == \
        "no run files, while the other stack has some"


def test_a_missing_run_file_is_named(tmp_path: Path) -> None:
    write_results(tmp_path)
    (tmp_path / "runs" / "kvm__g1__cpu__r2.json").unlink()
    results = load_results(tmp_path)
    assert problems(results) == {"runs/kvm__g1__cpu__r2.json": "missing: lab.json asks for this repeat"}
    assert len(results.runs) == 2 * 5 * len(WORKLOADS) - 1


def test_a_workload_lab_json_lists_but_nobody_ran_is_said(tmp_path: Path) -> None:
    write_results(tmp_path)
    lab = json.loads((tmp_path / "lab.json").read_text())
    write_json(tmp_path / "lab.json", lab | {"workloads": [*lab["workloads"], "disk_randwrite_4k"]})
    assert problems(load_results(tmp_path)) == {
        f"runs/{stack}__g1__disk_randwrite_4k__r*.json": "missing: none of the 5 repeats of disk_randwrite_4k "
                                                         "was recorded" for stack in ("kvm", "xen")}


def test_a_corrupt_run_file_is_not_also_called_missing(tmp_path: Path) -> None:
    write_results(tmp_path)
    (tmp_path / "runs" / "xen__g1__memory__r4.json").write_text("[")
    assert list(problems(load_results(tmp_path))) == ["runs/xen__g1__memory__r4.json"]


def test_one_boot_record_per_guest_is_complete(tmp_path: Path) -> None:
    """The guests role records one boot per guest it started: not a shortfall of repeats."""
    write_results(tmp_path)
    for path in (tmp_path / "runs").glob("*__boot__r[2-9].json"):
        path.unlink()
    assert problems(load_results(tmp_path)) == {}


@pytest.mark.parametrize("make", [lambda p: p, lambda p: (p / "runs").mkdir() or p])
def test_an_empty_dir_is_an_error(tmp_path: Path, make: object) -> None:
    with pytest.raises(HvlabError, match="no results here"):
        load_results(make(tmp_path))  # type: ignore[operator]


@pytest.mark.parametrize(("text", "shown"), [("0", "0"), ("-3.5", "-3.5"), ("NaN", "nan"), ("Infinity", "inf"),
                                             ("-Infinity", "-inf"), ('"12.5"', "'12.5'")])
def test_a_value_that_is_not_a_positive_finite_number_is_a_problem_not_a_point(
        tmp_path: Path, text: str, shown: str) -> None:
    write_results(tmp_path)
    path = tmp_path / "runs" / "kvm__g1__cpu__r2.json"
    record = json.loads(path.read_text())
    # json.dumps cannot write NaN in a string on purpose; Python's json reads NaN and Infinity.
    path.write_text(json.dumps(record | {"value": "VALUE"}).replace('"VALUE"', text))
    results = load_results(tmp_path)
    message = problems(results)["runs/kvm__g1__cpu__r2.json"]
    assert message.startswith("value must be a") and shown in message
    assert "runs/kvm__g1__cpu__r2.json" not in {r.file for r in results.runs}
    assert len([r for r in results.runs if r.workload == "cpu" and r.stack == "kvm"]) == 4


def test_a_run_whose_content_names_another_stack_or_repeat_is_a_problem(tmp_path: Path) -> None:
    """A guest that printed another stack's identity cannot be counted on that stack."""
    write_results(tmp_path)
    path = tmp_path / "runs" / "kvm__g1__cpu__r2.json"
    write_json(path, json.loads(path.read_text()) | {"stack": "xen", "repeat": 7})
    results = load_results(tmp_path)
    assert problems(results)["runs/kvm__g1__cpu__r2.json"] == (
        "holds xen 'g1' cpu repeat 7, which belongs in runs/xen__g1__cpu__r7.json: ignored")
    assert not [r for r in results.runs if r.repeat == 7]


def test_a_boot_part_that_is_not_a_positive_number_is_a_problem(tmp_path: Path) -> None:
    write_results(tmp_path)
    path = tmp_path / "runs" / "kvm__g1__boot__r1.json"
    write_json(path, json.loads(path.read_text()) | {"extra": {"create_s": -1, "guest_boot_s": 20.0}})
    assert problems(load_results(tmp_path))["runs/kvm__g1__boot__r1.json"] == \
        "extra.create_s must be a positive finite number, got -1"


def test_boot_parts_are_read_and_other_extras_left_alone(tmp_path: Path) -> None:
    write_results(tmp_path)
    path = tmp_path / "runs" / "kvm__g1__boot__r1.json"
    write_json(path, json.loads(path.read_text()) | {"extra": {"create_s": 2, "guest_boot_s": 19.5, "tool_note": "x"}})
    run = next(r for r in load_results(tmp_path).runs if r.file == "runs/kvm__g1__boot__r1.json")
    assert run.parts == (("create_s", 2.0), ("guest_boot_s", 19.5))


def test_boot_resets_are_read_and_a_bad_count_is_a_problem(tmp_path: Path) -> None:
    write_results(tmp_path)
    path = tmp_path / "runs" / "kvm__g1__boot__r1.json"
    write_json(path, json.loads(path.read_text()) | {"extra": {"create_s": 2, "guest_boot_s": 19.5, "resets": 1}})
    run = next(r for r in load_results(tmp_path).runs if r.file == "runs/kvm__g1__boot__r1.json")
    assert run.resets == 1
    assert all(r.resets == 0 for r in load_results(tmp_path).runs if r.file != "runs/kvm__g1__boot__r1.json")
    for bad in (-1, 1.5, True, "1"):
        write_json(path, json.loads(path.read_text()) | {"extra": {"resets": bad}})
        assert problems(load_results(tmp_path))["runs/kvm__g1__boot__r1.json"] == \
            f"extra.resets must be a whole number >= 0, got {bad!r}"
