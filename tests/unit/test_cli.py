"""The `hvlab` CLI: one-line errors with exit 1, machine-readable status. QEMU never runs."""

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from report_fixture import write_results

from hvlab import cli
from hvlab.errors import HvlabError
from hvlab.vlab.machines import Boot, Machine
from hvlab.vlab.releases import LabTarget


def runner() -> CliRunner:
    """A runner that keeps stderr apart from stdout (the default from click 8.2 on)."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click 8.1
    except TypeError:
        return CliRunner()


def invoke(*args: str) -> Result:
    return runner().invoke(cli.main, list(args))


@pytest.fixture
def nothing_may_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any image build, machine start or exec into ssh fails the test."""
    monkeypatch.setattr(cli.lab_image, "build", lambda *_a, **_k: pytest.fail("image build attempted"))
    monkeypatch.setattr(cli.guest_image, "build", lambda *_a, **_k: pytest.fail("guest image build attempted"))
    monkeypatch.setattr(Machine, "start", lambda *_a, **_k: pytest.fail("machine start attempted"))
    monkeypatch.setattr(cli.os, "execvp", lambda *_a: pytest.fail("exec attempted"))


def assert_one_line_error(result: Result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hvlab: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("nothing_may_start")
def test_ssh_unknown_machine() -> None:
    assert_one_line_error(invoke("vlab", "ssh", "nosuch"), "'nosuch'", "kvm1", "xen1")


@pytest.mark.usefixtures("nothing_may_start")
def test_up_unknown_machine_fails_before_anything_starts() -> None:
    assert_one_line_error(invoke("vlab", "up", "nosuch"), "'nosuch'", "kvm1, xen1")
    assert_one_line_error(invoke("vlab", "up", "kvm1", "nosuch"), "'nosuch'")


@pytest.mark.usefixtures("nothing_may_start")
def test_ssh_to_stopped_machine() -> None:
    assert_one_line_error(invoke("vlab", "ssh", "kvm1", "--", "uptime"), "kvm1 is not running",
                          "hvlab vlab up kvm1")


@pytest.mark.usefixtures("nothing_may_start")
def test_status_json_lists_both_machines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    result = invoke("vlab", "status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {d["name"]: d["port"] for d in data} == {"kvm1": 2221, "xen1": 2222}
    assert {d["state"] for d in data} == {"absent"}
    assert {d["accel"] for d in data} == {"tcg"}
    assert all(d["identity_file"].startswith(str(tmp_path)) for d in data)
    assert (tmp_path / "state" / "vlab" / "id_ed25519").exists()


@pytest.mark.usefixtures("nothing_may_start")
def test_status_json_selected_and_unknown() -> None:
    result = invoke("vlab", "status", "--json", "xen1")
    assert [d["name"] for d in json.loads(result.stdout)] == ["xen1"]
    assert_one_line_error(invoke("vlab", "status", "--json", "nosuch"), "'nosuch'")


@pytest.mark.usefixtures("nothing_may_start")
def test_status_plain() -> None:
    result = invoke("vlab", "status")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["kvm1", "xen1"]
    assert "127.0.0.1:2221" in lines[0] and "absent" in lines[0]


@pytest.mark.usefixtures("nothing_may_start")
def test_console_log_and_down_on_absent_lab() -> None:
    result = invoke("vlab", "console-log", "kvm1")
    assert result.exit_code == 0
    assert result.stdout.strip() == "(no serial log)"
    assert invoke("vlab", "down").exit_code == 0
    assert invoke("vlab", "down", "--keep-disks", "xen1").exit_code == 0


# --- release and firmware ----------------------------------------------------------------

def assert_refused_naming(result: Result, *accepted: str) -> None:
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for value in accepted:
        assert value in result.stderr, result.stderr


@pytest.mark.usefixtures("nothing_may_start")
def test_up_unknown_release_is_refused_before_any_build() -> None:
    result = invoke("vlab", "up", "--release", "11")
    assert_refused_naming(result, "'11'", "'13'", "'12'")
    assert_refused_naming(invoke("vlab", "up", "kvm1", "--firmware", "efi"), "'efi'", "'uefi'", "'uefi-secureboot'",
                          "'bios'")


@pytest.mark.usefixtures("nothing_may_start")
def test_image_build_unknown_firmware_is_refused_before_any_build() -> None:
    result = invoke("image", "build", "--firmware", "efi")
    assert_refused_naming(result, "'efi'", "'uefi'", "'uefi-secureboot'", "'bios'")
    assert_refused_naming(invoke("image", "build", "--release", "11"), "'11'", "'13'", "'12'")
    assert_refused_naming(invoke("image", "build", "--guest", "--release", "bookworm"), "'13'", "'12'")


@pytest.mark.usefixtures("nothing_may_start")
def test_image_build_guest_refuses_firmware_and_stack() -> None:
    assert_one_line_error(invoke("image", "build", "--guest", "--firmware", "bios"),
                          "--firmware and --stack are for lab images")
    assert_one_line_error(invoke("image", "build", "--guest", "--stack", "xen"),
                          "--firmware and --stack are for lab images")


@pytest.mark.usefixtures("nothing_may_start")
def test_unknown_image_kind_or_stack_is_refused_before_any_build() -> None:
    assert_refused_naming(invoke("vlab", "up", "--image", "weird"), "'weird'", "'prepared'", "'bare'")
    assert_refused_naming(invoke("vlab", "up", "kvm1", "--image", "weird"), "'weird'")
    assert_refused_naming(invoke("image", "build", "--stack", "bhyve"), "'bhyve'", "'kvm'", "'xen'")


def write_vlab_settings(tmp_path: Path, text: str) -> Path:
    settings = tmp_path / "project" / "inventories" / "vlab" / "group_vars" / "all.yml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(text)
    return settings


@pytest.mark.usefixtures("nothing_may_start")
def test_bad_default_in_the_vlab_inventory_is_refused_before_any_build(tmp_path: Path) -> None:
    settings = write_vlab_settings(tmp_path, "hvlab_vlab_release: '13'\nhvlab_vlab_firmware: efi\n")
    assert_one_line_error(invoke("vlab", "up"), str(settings), "'efi'", "uefi, uefi-secureboot, bios")
    assert_one_line_error(invoke("image", "build"), str(settings), "'efi'")
    write_vlab_settings(tmp_path, "hvlab_vlab_image: weird\n")
    assert_one_line_error(invoke("vlab", "up"), str(settings), "'weird'", "prepared, bare")


@pytest.fixture
def recorded_up(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[object]]:
    """`vlab up` with image builds and machine starts recorded instead of run."""
    calls: dict[str, list[object]] = {"build": [], "start": []}

    def build(target: LabTarget, **_k: object) -> object:
        calls["build"].append(target)
        return cli.lab_image.cached_image(target)

    def start(self: Machine, boot: Boot, **_k: object) -> None:
        calls["start"].append((self.spec.name, boot))

    monkeypatch.setattr(cli.lab_image, "build", build)
    monkeypatch.setattr(Machine, "start", start)
    return calls


def test_up_uses_the_vlab_inventorys_defaults(tmp_path: Path, recorded_up: dict[str, list[object]]) -> None:
    write_vlab_settings(tmp_path, "hvlab_vlab_release: 12\nhvlab_vlab_firmware: bios\n")  # 12 unquoted: an int
    result = invoke("vlab", "up", "--no-inventory")
    assert result.exit_code == 0, result.output
    # prepared by default: each machine's own stack's image
    assert recorded_up["build"] == [LabTarget("12", "bios", "kvm"), LabTarget("12", "bios", "xen")]
    boot = Boot("12", "bios", "prepared")
    assert recorded_up["start"] == [("kvm1", boot), ("xen1", boot)]


def test_up_takes_the_image_kind_of_the_vlab_inventory(tmp_path: Path,
                                                       recorded_up: dict[str, list[object]]) -> None:
    write_vlab_settings(tmp_path, "hvlab_vlab_image: bare\n")
    result = invoke("vlab", "up", "--no-inventory")
    assert result.exit_code == 0, result.output
    assert recorded_up["build"] == [LabTarget("13", "uefi")]
    assert recorded_up["start"] == [("kvm1", Boot("13", "uefi", "bare")), ("xen1", Boot("13", "uefi", "bare"))]


def test_up_options_override_the_defaults(recorded_up: dict[str, list[object]]) -> None:
    result = invoke("vlab", "up", "--no-inventory", "--firmware", "uefi-secureboot")
    assert result.exit_code == 0, result.output
    # Secure Boot boots the same disk as UEFI: the uefi layout's prepared images
    assert recorded_up["build"] == [LabTarget("13", "uefi", "kvm"), LabTarget("13", "uefi", "xen")]
    boot = Boot("13", "uefi-secureboot", "prepared")
    assert recorded_up["start"] == [("kvm1", boot), ("xen1", boot)]


def test_up_bare_machines_share_one_image(recorded_up: dict[str, list[object]]) -> None:
    result = invoke("vlab", "up", "--no-inventory", "--image", "bare", "--release", "12")
    assert result.exit_code == 0, result.output
    assert recorded_up["build"] == [LabTarget("12", "uefi")]
    assert recorded_up["start"] == [("kvm1", Boot("12", "uefi", "bare")), ("xen1", Boot("12", "uefi", "bare"))]


def test_up_prepared_builds_only_the_selected_machines_stack(recorded_up: dict[str, list[object]]) -> None:
    result = invoke("vlab", "up", "--no-inventory", "--image", "prepared", "xen1")
    assert result.exit_code == 0, result.output
    assert recorded_up["build"] == [LabTarget("13", "uefi", "xen")]
    assert recorded_up["start"] == [("xen1", Boot("13", "uefi", "prepared"))]


@pytest.fixture
def recorded_guest_image(monkeypatch: pytest.MonkeyPatch, recorded_up: dict[str, list[object]],
                         tmp_path: Path) -> dict[str, list[object]]:
    """As recorded_up, with guest image builds and the disk each machine gets recorded too."""
    recorded_up["guest"] = []

    def build(release: str, **_k: object) -> object:
        recorded_up["guest"].append(release)
        return cli.guest_image.GuestImage(tmp_path / "guest")

    def start(self: Machine, boot: Boot, guest_disk: Path | None = None, **_k: object) -> None:
        recorded_up["start"].append((self.spec.name, guest_disk))

    monkeypatch.setattr(cli.guest_image, "build", build)
    monkeypatch.setattr(cli.guest_image, "disk_tar", lambda image, **_k: image.directory.with_suffix(".tar"))
    monkeypatch.setattr(Machine, "start", start)
    return recorded_up


def test_up_attaches_no_guest_image_unless_asked(recorded_guest_image: dict[str, list[object]]) -> None:
    result = invoke("vlab", "up", "--no-inventory")
    assert result.exit_code == 0, result.output
    assert recorded_guest_image["guest"] == []
    assert recorded_guest_image["start"] == [("kvm1", None), ("xen1", None)]


def test_up_guest_image_builds_it_and_attaches_it_to_each_machine(
        tmp_path: Path, recorded_guest_image: dict[str, list[object]]) -> None:
    result = invoke("vlab", "up", "--no-inventory", "--guest-image", "--release", "12")
    assert result.exit_code == 0, result.output
    # The guest image's own release (the role's default), not the machines'.
    assert recorded_guest_image["guest"] == ["13"]
    tar = tmp_path / "guest.tar"
    assert recorded_guest_image["start"] == [("kvm1", tar), ("xen1", tar)]


def test_up_guest_image_takes_the_vlab_inventorys_guest_image_release(
        tmp_path: Path, recorded_guest_image: dict[str, list[object]]) -> None:
    write_vlab_settings(tmp_path, "guest_image_release: '12'\n")
    result = invoke("vlab", "up", "--no-inventory", "--guest-image", "xen1")
    assert result.exit_code == 0, result.output
    assert recorded_guest_image["guest"] == ["12"]
    assert recorded_guest_image["start"] == [("xen1", tmp_path / "guest.tar")]


@pytest.mark.usefixtures("nothing_may_start")
def test_up_guest_image_bad_release_is_refused_before_any_build(tmp_path: Path) -> None:
    settings = write_vlab_settings(tmp_path, "guest_image_release: '11'\n")
    assert_one_line_error(invoke("vlab", "up", "--guest-image"), str(settings), "guest_image_release", "'11'")


def record_disk(name: str, boot: Boot, with_image: bool = True) -> None:
    machine = cli.machines([name])[0]
    machine.dir.mkdir(parents=True, exist_ok=True)
    machine.overlay.write_bytes(b"overlay")
    data = {"release": boot.release, "firmware": boot.firmware}
    if with_image:
        data["image"] = boot.image
    machine.boot_file.write_text(json.dumps(data))


def test_up_keeps_an_existing_disks_boot(recorded_up: dict[str, list[object]]) -> None:
    record_disk("xen1", Boot("12", "bios"), with_image=False)  # a disk made before image kinds: bare
    result = invoke("vlab", "up", "--no-inventory")
    assert result.exit_code == 0, result.output
    assert recorded_up["build"] == [LabTarget("13", "uefi", "kvm"), LabTarget("12", "bios")]
    assert recorded_up["start"] == [("kvm1", Boot("13", "uefi", "prepared")), ("xen1", Boot("12", "bios", "bare"))]


def test_up_build_only_builds_what_new_machines_would_boot_and_starts_none(
        tmp_path: Path, recorded_guest_image: dict[str, list[object]]) -> None:
    # A disk of another boot is not in the way: the images are those of new machines as asked.
    record_disk("xen1", Boot("12", "bios", "bare"))
    result = invoke("vlab", "up", "--no-inventory", "--build-only", "--image", "prepared", "--guest-image",
                    "--firmware", "uefi-secureboot", "xen1")
    assert result.exit_code == 0, result.output
    assert recorded_guest_image["build"] == [LabTarget("13", "uefi", "xen")]
    assert recorded_guest_image["guest"] == ["13"]
    assert recorded_guest_image["start"] == []


@pytest.mark.usefixtures("nothing_may_start")
def test_up_refuses_another_image_for_an_existing_disk_before_anything_starts() -> None:
    record_disk("xen1", Boot("13", "uefi", "bare"))
    assert_one_line_error(invoke("vlab", "up", "--image", "prepared"),
                          "xen1 exists as Debian 13, uefi, bare image, not Debian 13, uefi, prepared image",
                          "hvlab vlab down xen1")


@pytest.mark.usefixtures("nothing_may_start")
def test_up_refuses_another_release_for_an_existing_disk_before_anything_starts() -> None:
    record_disk("xen1", Boot("12", "bios"))
    assert_one_line_error(invoke("vlab", "up", "--release", "13"), "xen1 exists as Debian 12, bios, bare image",
                          "hvlab vlab down xen1")


def test_image_build_builds_the_asked_target(recorded_up: dict[str, list[object]]) -> None:
    result = invoke("image", "build", "--release", "12")
    assert result.exit_code == 0, result.output
    assert recorded_up["build"] == [LabTarget("12", "uefi")]  # bare without --stack
    assert result.stdout.strip() == str(cli.lab_image.cached_image(LabTarget("12", "uefi")).path)


def test_image_build_stack_builds_the_prepared_image(recorded_up: dict[str, list[object]]) -> None:
    result = invoke("image", "build", "--stack", "xen", "--firmware", "uefi-secureboot")
    assert result.exit_code == 0, result.output
    assert recorded_up["build"] == [LabTarget("13", "uefi", "xen")]
    assert result.stdout.strip() == str(cli.lab_image.cached_image(LabTarget("13", "uefi", "xen")).path)
    assert "debian-13-uefi-xen-" in result.stdout


def test_image_build_guest_takes_the_release(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    asked: list[str] = []

    def build(release: str, **_k: object) -> object:
        asked.append(release)
        return cli.guest_image.GuestImage(tmp_path / "guest")

    monkeypatch.setattr(cli.guest_image, "build", build)
    monkeypatch.setattr(cli.lab_image, "build", lambda *_a, **_k: pytest.fail("lab image build attempted"))
    assert invoke("image", "build", "--guest").exit_code == 0
    assert invoke("image", "build", "--guest", "--release", "12").exit_code == 0
    assert asked == ["13", "12"]


@pytest.mark.usefixtures("nothing_may_start")
def test_status_plain_shows_release_firmware_and_image() -> None:
    record_disk("kvm1", Boot("12", "bios", "prepared"))
    lines = invoke("vlab", "status").stdout.splitlines()
    assert "stopped" in lines[0] and "debian-12 bios prepared" in lines[0]
    assert "absent" in lines[1] and "debian-" not in lines[1]


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert cli.__version__ in result.stdout


@pytest.mark.usefixtures("nothing_may_start")
def test_error_text_is_not_markup_closing_tag() -> None:
    assert_one_line_error(invoke("vlab", "up", "[/x]"), "'[/x]'")


@pytest.mark.usefixtures("nothing_may_start")
def test_error_text_is_not_markup_style_tag() -> None:
    assert_one_line_error(invoke("vlab", "ssh", "[red]x"), "'[red]x'")


@pytest.mark.usefixtures("nothing_may_start")
def test_long_error_stays_one_line() -> None:
    name = "n" * 120
    assert_one_line_error(invoke("vlab", "up", name), name)


def test_spec_check_lists_valid_guests(tmp_path: Path) -> None:
    vars_file = tmp_path / "all.yml"
    vars_file.write_text("hvlab_guests:\n  - {name: web1, vcpus: 2, memory_mib: 512, disk_gib: 4, xen_type: pv}\n")
    result = invoke("spec", "check", str(vars_file))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "web1: 2 vCPU, 512 MiB, 4 GiB, xen pv"


def test_spec_check_reports_every_problem_on_one_line(tmp_path: Path) -> None:
    vars_file = tmp_path / "all.yml"
    vars_file.write_text(
        "hvlab_guests:\n"
        "  - {name: web1, vcpus: 1, memory_mib: 512, disk_gib: 4}\n"
        "  - {name: web1, vcpus: 0, memory_mib: 512, disk_gib: 4}\n"
        "  - {name: '../x', vcpus: 1, memory_mib: 512, disk_gib: 4}\n"
    )
    assert_one_line_error(invoke("spec", "check", str(vars_file)), "already used", "vcpus", "../x")


def test_spec_check_refuses_a_file_without_guests(tmp_path: Path) -> None:
    vars_file = tmp_path / "all.yml"
    vars_file.write_text("other: 1\n")
    assert_one_line_error(invoke("spec", "check", str(vars_file)), "no hvlab_guests")


def test_up_on_a_real_lab_writes_the_report_and_says_the_warnings(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    calls: list[tuple[Path, Path, dict[str, object]]] = []

    def fake_run(inventory_path: Path, results: Path, extra: dict[str, object], _say: object) -> list[object]:
        calls.append((inventory_path, results, extra))
        write_results(results, repeats=2)
        return [{"stage": "Compare", "seconds": 1.0}]

    monkeypatch.setattr(cli.pipeline, "run", fake_run)
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    result = invoke("up", "-i", str(tmp_path / "hosts.yml"), "--repeats", "2", "--boot-repeats", "2",
                    "--results", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert calls == [(tmp_path / "hosts.yml", (tmp_path / "r").resolve(),
                      {"compare_profile": "full", "compare_repeats": 2, "compare_boot_repeats": 2,
                       "compare_replace_results": False})]
    assert result.stdout.strip() == str((tmp_path / "r" / "report.html").resolve())
    assert (tmp_path / "r" / "report.md").exists()
    assert "warning: cpu g1: fewer than 3 repeats: no interval can be given" in result.stderr


def test_up_that_fails_midway_still_reports_what_was_recorded(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    def fake_run(_inventory: Path, results: Path, _extra: object, _say: object) -> list[object]:
        write_results(results)
        (results / "runs" / "xen__g1__cpu__r5.json").unlink()
        raise HvlabError("the playbooks failed (exit 2); see ansible.log")

    monkeypatch.setattr(cli.pipeline, "run", fake_run)
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    result = invoke("up", "-i", str(tmp_path / "hosts.yml"), "--results", str(tmp_path / "r"))
    assert result.exit_code == 1
    assert (tmp_path / "r" / "report.html").exists()
    assert "problem: runs/xen__g1__cpu__r5.json: missing" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("hvlab: the playbooks failed (exit 2)")


def results_with_files(directory: Path, lab_json: str) -> dict[str, str]:
    """directory holding lab.json, a run and a note; returns what each file holds."""
    (directory / "runs").mkdir(parents=True)
    files = {"lab.json": lab_json, "runs/kvm__g1__cpu__r1.json": '{"mine": true}', "notes.txt": "mine"}
    for name, text in files.items():
        (directory / name).write_text(text)
    return files


def contents(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): p.read_text() for p in directory.rglob("*") if p.is_file()}


@pytest.mark.usefixtures("nothing_may_start")
@pytest.mark.parametrize(("lab_json", "replace", "needles"), [
    ('{"note": "hvlab.lab/1"}', True, ["--results", "is not an hvlab results directory"]),
    (json.dumps({"schema": "hvlab.lab/1", "created": "2024-06-01T10:00:00Z"}), False,
     ["--results", "holds an earlier comparison", "--replace-results"]),
], ids=["not hvlab's", "earlier comparison"])
def test_up_refuses_a_results_directory_before_anything_starts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                lab_json: str, replace: bool,
                                                                needles: list[str]) -> None:
    """Neither the playbooks nor the lab start, and the directory keeps every file as it was."""
    monkeypatch.setattr(cli.pipeline, "run", lambda *_a: pytest.fail("the playbooks were started"))
    monkeypatch.setattr(cli, "_vlab_up", lambda *_a: pytest.fail("the virtual lab was started"))
    results = tmp_path / "r"
    files = results_with_files(results, lab_json)
    options = ["--replace-results"] if replace else []
    assert_one_line_error(invoke("up", "--results", str(results), *options), *needles)
    assert contents(results) == files


def test_up_replaces_an_earlier_comparison_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    extras: list[dict[str, object]] = []

    def fake_run(_inventory: Path, results: Path, extra: dict[str, object], _say: object) -> list[object]:
        extras.append(extra)
        write_results(results, repeats=2)
        return []

    monkeypatch.setattr(cli.pipeline, "run", fake_run)
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    results_with_files(tmp_path / "r", json.dumps({"schema": "hvlab.lab/1"}))
    result = invoke("up", "-i", str(tmp_path / "hosts.yml"), "--results", str(tmp_path / "r"), "--replace-results")
    assert result.exit_code == 0, result.output
    assert extras == [{"compare_profile": "full", "compare_replace_results": True}]


def test_down_on_a_real_lab_runs_the_teardown_playbook_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    argvs: list[list[str]] = []

    def fake_subprocess_run(argv: list[str], **_kwargs: object) -> subprocess.CompletedProcess[str]:
        argvs.append(argv)
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(cli.pipeline.subprocess, "run", fake_subprocess_run)
    monkeypatch.setattr(Machine, "destroy", lambda *_a, **_k: pytest.fail("a lab machine was touched"))
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    assert invoke("down", "-i", str(tmp_path / "hosts.yml")).exit_code == 0
    assert [Path(a).name for a in argvs[0][1:]] == ["-i", "hosts.yml", "teardown.yml"]
    monkeypatch.setattr(cli.pipeline.subprocess, "run", lambda argv, **_k: subprocess.CompletedProcess(argv, 2))
    failed = invoke("down", "-i", str(tmp_path / "hosts.yml"))
    assert failed.exit_code == 1
    assert failed.stderr.strip().splitlines()[-1] == "hvlab: the teardown playbook failed (exit 2)"


def test_claims_runs_on_a_real_lab_and_rewrites_the_report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[Path, Path]] = []

    def fake_run_claims(inventory_path: Path, results: Path, _say: object) -> list[object]:
        calls.append((inventory_path, results))
        (results / "claims").mkdir()
        (results / "claims" / "scheduler.json").write_text(json.dumps({
            "schema": "hvlab.claim/1", "claim": "scheduler",
            "evidence": {"kvm": {"rate_default": 100.0, "rate_low_weight": 20.0},
                         "xen": {"rate_default": 100.0, "rate_dom0_weight": 99.0, "rate_xl_weight": 30.0}}}))
        return []

    monkeypatch.setattr(cli.pipeline, "run_claims", fake_run_claims)
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    write_results(tmp_path / "r", repeats=2)
    result = invoke("claims", "-i", str(tmp_path / "hosts.yml"), "--results", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert calls == [(tmp_path / "hosts.yml", (tmp_path / "r").resolve())]
    assert result.stdout.strip() == str((tmp_path / "r" / "report.html").resolve())
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["claims"][0]["id"] == "scheduler" and summary["claims"][0]["verdict"] == "held"


@pytest.mark.usefixtures("nothing_may_start")
def test_claims_refuses_a_directory_without_a_comparison(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli.pipeline, "run_claims", lambda *_a: pytest.fail("the playbooks were started"))
    results = tmp_path / "r"
    files = results_with_files(results, '{"note": "hvlab.lab/1"}')
    assert_one_line_error(invoke("claims", "--results", str(results)), "--results", "holds no comparison")
    assert contents(results) == files


@pytest.mark.usefixtures("nothing_may_start")
def test_claims_on_a_stopped_virtual_lab_says_to_run_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli.pipeline, "run_claims", lambda *_a: pytest.fail("the playbooks were started"))
    monkeypatch.setattr(Machine, "pid", lambda _self: None)
    write_results(tmp_path / "r")
    assert_one_line_error(invoke("claims", "--results", str(tmp_path / "r")), "the virtual lab is not up",
                          "hvlab up")


def test_up_on_the_virtual_lab_boots_it_with_the_guest_image_disk(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    booted: list[tuple[tuple[object, ...], dict[str, object]]] = []
    monkeypatch.setattr(cli, "_vlab_up", lambda *a, **k: booted.append((a, k)))

    def fake_run(_inventory: Path, results: Path, _extra: object, _say: object) -> list[object]:
        assert booted, "the lab was booted before the playbooks ran"
        write_results(results)
        return []

    monkeypatch.setattr(cli.pipeline, "run", fake_run)
    result = invoke("up", "--results", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert booted == [((["kvm1", "xen1"],), {"guest_image_disk": True})]


def test_spec_check_reads_the_lab_networks_the_nics_name(tmp_path: Path) -> None:
    vars_file = tmp_path / "all.yml"
    vars_file.write_text(
        "hvlab_networks:\n"
        "  - {name: lab, cidr: 10.80.0.0/24, dhcp_range: [10.80.0.100, 10.80.0.199]}\n"
        "hvlab_guests:\n"
        "  - {name: web1, vcpus: 1, memory_mib: 512, disk_gib: 4, xen_type: pv,\n"
        "     nics: [{network: lab, address: 10.80.0.10}]}\n"
    )
    result = invoke("spec", "check", str(vars_file))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "web1: 1 vCPU, 512 MiB, 4 GiB, xen pv, eth0 lab 10.80.0.10"


def test_spec_check_refuses_a_nic_on_a_network_the_lab_lacks(tmp_path: Path) -> None:
    vars_file = tmp_path / "all.yml"
    vars_file.write_text(
        "hvlab_guests:\n"
        "  - {name: web1, vcpus: 1, memory_mib: 512, disk_gib: 4, nics: [{network: store, address: 10.1.0.5}]}\n"
    )
    assert_one_line_error(invoke("spec", "check", str(vars_file)), "'store'", "hvlab_networks")
