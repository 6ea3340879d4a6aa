"""plugins/modules/xl_domain.py: parsing `xl list -l`, deciding, and running xl, with xl faked.

The module is loaded from its file (it is an Ansible module, not part of the hvlab package);
a FakeModule stands in for AnsibleModule and answers run_command from a scripted xl.
"""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from plugin_loader import load_plugin

ROOT = Path(__file__).resolve().parents[2]
XL = "/usr/sbin/xl"
# The uuid hvlab's configs set, and the one xl gives a domain created by someone else.
OURS = "5f1e6a7b-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
FOREIGN = "8c4f0d2e-0000-4000-8000-000000000001"


def load_module() -> ModuleType:
    return load_plugin("plugins/modules/xl_domain.py", "xl_domain_under_test")


xl_domain = load_module()


def xl_list_json(domains: dict[str, int], uuids: dict[str, str] | None = None) -> str:
    """`xl list -l` as Xen 4.17 prints it: Domain-0 first, then one object per domain."""
    entries: list[dict[str, Any]] = [
        {"domid": 0, "config": {"c_info": {"type": "pv", "name": "Domain-0"}, "b_info": {"max_vcpus": 2}}}
    ]
    for name, domid in domains.items():
        entries.append({
            "domid": domid,
            "config": {
                "c_info": {"type": "pvh", "name": name, "uuid": (uuids or {}).get(name, FOREIGN)},
                "b_info": {"max_vcpus": 2, "max_memkb": 524288, "type.pvh": {}},
                "disks": [{"pdev_path": f"/var/lib/hvlab/images/{name}.qcow2", "vdev": "xvda", "format": "qcow2"}],
                "nics": [{"bridge": "xenbr0"}],
                "on_reboot": "restart",
            },
        })
    return json.dumps(entries, indent=4)


class FakeXl:
    """A scripted xl: a dict of running domains that create/shutdown/destroy change."""

    def __init__(self, domains: dict[str, int] | None = None, *, shutdown_works: bool = True,
                 create_rc: int = 0, list_output: str | None = None, create_leaves_domain: bool = False) -> None:
        self.domains = dict(domains or {})
        # name -> uuid of the domains created through this fake (others have FOREIGN's)
        self.uuids: dict[str, str] = {}
        self.create_leaves_domain = create_leaves_domain
        self.shutdown_works = shutdown_works
        self.create_rc = create_rc
        self.list_output = list_output
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], **_: Any) -> tuple[int, str, str]:
        assert isinstance(argv, list), "commands are argument lists, never shell strings"
        self.calls.append(argv)
        args = argv[3:] if argv[0] == "timeout" else argv[1:]
        if args == ["list", "-l"]:
            listing = xl_list_json(self.domains, self.uuids)
            return 0, self.list_output if self.list_output is not None else listing, ""
        if args[0] == "create":
            path = args[-1]
            if self.create_rc:
                if self.create_leaves_domain:
                    text = Path(path).read_text()
                    self.domains[xl_domain.config_name(text)] = 7
                    self.uuids[xl_domain.config_name(text)] = xl_domain.config_uuid(text)
                return self.create_rc, "", "libxl: error: cannot create domain"
            text = Path(path).read_text()
            name = xl_domain.config_name(text)
            self.domains[name] = max(self.domains.values(), default=0) + 1
            self.uuids[name] = xl_domain.config_uuid(text) or FOREIGN
            return 0, "", f"Parsing config from {path}\n"
        if args[0] == "shutdown":
            if self.shutdown_works:
                self.domains.pop(self.addressed(args[-1]), None)
                return 0, "", ""
            return 124, "", ""
        if args[0] == "destroy":
            self.domains.pop(self.addressed(args[-1]), None)
            return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")

    def addressed(self, qualifier: str) -> str | None:
        """The domain xl acts on: like xl, it reads an all-digit argument as a domid."""
        if qualifier.isdigit():
            return next((name for name, domid in self.domains.items() if domid == int(qualifier)), None)
        return qualifier if qualifier in self.domains else None

    def mutating_calls(self) -> list[list[str]]:
        return [call for call in self.calls if call[1:] != ["list", "-l"]]


class FakeModule:
    def __init__(self, xl: FakeXl, *, check_mode: bool = False, diff: bool = True, **params: Any) -> None:
        self.params = {"config": None, "state": "running", "recreate": False, "shutdown_timeout": 120,
                       "paused": False, **params}
        self.check_mode = check_mode
        self._diff = diff
        self.run_command = xl
        self.warnings: list[str] = []

    def get_bin_path(self, name: str, required: bool = False) -> str:
        assert name == "xl"
        return XL

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def write_config(path: Path, name: str = "web1", memory: int = 512) -> str:
    path.write_text(f'name = "{name}"\nuuid = "{OURS}"\ntype = "pvh"\nmemory = {memory}\nvcpus = 2\n')
    return str(path)


@pytest.fixture
def config(tmp_path: Path) -> str:
    return write_config(tmp_path / "web1.cfg")


# --- parsing -----------------------------------------------------------------------------

def test_parse_real_looking_output_leaves_out_domain0() -> None:
    parsed = xl_domain.parse_xl_list(xl_list_json({"web1": 3, "db": 5}, {"web1": OURS.upper()}))
    assert parsed == {"web1": xl_domain.Domain(3, OURS), "db": xl_domain.Domain(5, FOREIGN)}
    assert xl_domain.parse_xl_list(xl_list_json({})) == {}


@pytest.mark.parametrize("output", ["", "\n", "   \n"])
def test_parse_empty_output(output: str) -> None:
    assert xl_domain.parse_xl_list(output) == {}


def test_parse_skips_entries_without_a_name() -> None:
    output = json.dumps(
        [{"domid": 4, "config": None}, {"domid": 6}, "junk", {"domid": 7, "config": {"c_info": {"name": "g"}}}]
    )
    assert xl_domain.parse_xl_list(output) == {"g": xl_domain.Domain(7, None)}


def test_parse_single_object() -> None:
    output = json.dumps({"domid": 2, "config": {"c_info": {"name": "g"}}})
    assert xl_domain.parse_xl_list(output) == {"g": xl_domain.Domain(2, None)}


@pytest.mark.parametrize("output", ["(domain (domid 0) (name Domain-0))", "[{", "Name ID Mem\nDomain-0 0 1024"])
def test_parse_invalid_json_fails_clearly(output: str) -> None:
    with pytest.raises(xl_domain.XlError, match=r"cannot parse `xl list -l` output as JSON.*output_format"):
        xl_domain.parse_xl_list(output)


def test_parse_json_that_is_not_a_list() -> None:
    with pytest.raises(xl_domain.XlError, match="not a list of domains"):
        xl_domain.parse_xl_list('"hello"')


def test_config_name() -> None:
    assert xl_domain.config_name('# x\nname = "web1"\n') == "web1"
    assert xl_domain.config_name("name='db' # comment\n") == "db"
    assert xl_domain.config_name("hostname = 'x'\n") is None


def test_config_uuid() -> None:
    assert xl_domain.config_uuid(f'name = "web1"\nuuid = "{OURS.upper()}" # ours\n') == OURS
    assert xl_domain.config_uuid('name = "web1"\n') is None
    assert xl_domain.config_uuid('uuid = "not-a-uuid"\n') is None


# --- the pure decision -------------------------------------------------------------------------

CFG = f'name = "web1"\nuuid = "{OURS}"\n'


def decide(**kwargs: Any) -> Any:
    base: dict[str, Any] = {
        "name": "web1", "state": "running", "present": False, "config_path": "/etc/xen/web1.cfg",
        "config_text": CFG, "applied_text": None, "recreate": False, "running_uuid": None,
    }
    base.update(kwargs)
    return xl_domain.decide(**base)


def test_decide_matrix() -> None:
    assert decide().steps == ("create", "record")
    running = {"present": True, "running_uuid": OURS}
    assert decide(**running, applied_text=CFG).steps == ()
    outdated = decide(**running, applied_text=CFG + "memory = 1\n")
    assert outdated.steps == () and outdated.config_outdated and outdated.warnings
    assert outdated.diff["before"] != outdated.diff["after"]
    assert decide(**running, applied_text=CFG + "old", recreate=True).steps == ("stop", "create", "record")
    assert decide(state="stopped", **running, applied_text=CFG).steps == ("stop",)
    assert decide(state="absent", **running, applied_text=CFG).steps == ("stop", "forget")
    assert decide(state="absent", present=False, applied_text=CFG).steps == ("forget",)
    assert decide(state="absent", present=False, config_path=None, config_text=None).steps == ()
    assert decide(state="stopped", present=False).steps == ()


def test_decide_refuses_foreign_domains() -> None:
    with pytest.raises(xl_domain.XlError, match="was not created by xl_domain"):
        decide(present=True, applied_text=None)
    with pytest.raises(xl_domain.XlError, match="refusing to shut down domain web1"):
        decide(state="absent", present=True, applied_text=None)
    with pytest.raises(xl_domain.XlError, match="give config"):
        decide(state="stopped", present=True, config_path=None, config_text=None)


def test_decide_refuses_a_domain_whose_uuid_is_not_the_recorded_one() -> None:
    """The record outlived hvlab's domain (a host reboot) and an admin's domain took the name."""
    for state in ("running", "stopped", "absent"):
        for running_uuid in (FOREIGN, None):
            with pytest.raises(xl_domain.XlError, match=f"is not the uuid {OURS} recorded|records no uuid"):
                decide(state=state, present=True, running_uuid=running_uuid, applied_text=CFG, recreate=True)
        with pytest.raises(xl_domain.XlError, match="records no uuid"):
            decide(state=state, present=True, running_uuid=FOREIGN, applied_text='name = "web1"\n')


def test_decide_refuses_a_config_without_uuid() -> None:
    with pytest.raises(xl_domain.XlError, match=r"must set uuid"):
        decide(config_text='name = "web1"\n')


def test_decide_refuses_config_with_another_name() -> None:
    with pytest.raises(xl_domain.XlError, match=r"must set name = \"web1\" \(it sets 'db'\)"):
        decide(config_text='name = "db"\n')
    with pytest.raises(xl_domain.XlError, match="does not exist"):
        decide(config_text=None)


# --- ensure(): the module's behaviour with xl faked ------------------------------------------

def test_create_when_absent(config: str) -> None:
    xl = FakeXl()
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    assert result["changed"] is True
    assert result["domid"] == 1
    assert xl.mutating_calls() == [[XL, "create", config]]
    assert result["commands"] == [[XL, "create", config]]
    assert Path(config + ".applied").read_text() == Path(config).read_text()
    assert result["diff"]["after"] == Path(config).read_text()


def test_create_paused_passes_p_to_xl(config: str) -> None:
    xl = FakeXl()
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, paused=True))
    assert result["changed"] is True
    assert result["domid"] == 1
    assert xl.mutating_calls() == [[XL, "create", "-p", config]]


def test_paused_does_not_touch_a_domain_that_exists(config: str) -> None:
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    xl.calls.clear()
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, paused=True))
    assert result["changed"] is False
    assert xl.mutating_calls() == []


def test_check_mode_shows_the_paused_create(config: str) -> None:
    xl = FakeXl()
    result = xl_domain.ensure(FakeModule(xl, check_mode=True, name="web1", config=config, paused=True))
    assert result["commands"] == [[XL, "create", "-p", config]]
    assert xl.mutating_calls() == []


def test_noop_when_running_with_same_config(config: str) -> None:
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    xl.calls.clear()
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    assert result["changed"] is False
    assert result["domid"] == 1
    assert xl.mutating_calls() == []
    assert "diff" not in result


def test_changed_config_warns_without_recreate(tmp_path: Path, config: str) -> None:
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    write_config(tmp_path / "web1.cfg", memory=1024)
    xl.calls.clear()
    module = FakeModule(xl, name="web1", config=config)
    result = xl_domain.ensure(module)
    assert result["changed"] is False and result["config_outdated"] is True
    assert "memory = 1024" in result["diff"]["after"] and "memory = 512" in result["diff"]["before"]
    assert any("recreate: true" in warning for warning in module.warnings)
    assert xl.mutating_calls() == []
    assert "memory = 512" in Path(config + ".applied").read_text()


def test_changed_config_recreates_when_asked(tmp_path: Path, config: str) -> None:
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    write_config(tmp_path / "web1.cfg", memory=1024)
    xl.calls.clear()
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, recreate=True, shutdown_timeout=30))
    assert result["changed"] is True
    assert xl.mutating_calls() == [["timeout", "30", XL, "shutdown", "-F", "-w", "1"], [XL, "create", config]]
    assert "memory = 1024" in Path(config + ".applied").read_text()


def test_check_mode_runs_only_xl_list(config: str) -> None:
    xl = FakeXl()
    result = xl_domain.ensure(FakeModule(xl, check_mode=True, name="web1", config=config))
    assert result["changed"] is True
    assert result["commands"] == [[XL, "create", config]]
    assert xl.calls == [[XL, "list", "-l"]]
    assert not Path(config + ".applied").exists()


def test_check_mode_stop_makes_no_calls(config: str) -> None:
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    xl.calls.clear()
    result = xl_domain.ensure(FakeModule(xl, check_mode=True, name="web1", config=config, state="absent"))
    assert result["changed"] is True
    assert xl.mutating_calls() == []
    assert xl.domains == {"web1": 1}
    assert Path(config + ".applied").exists()


def test_check_mode_with_config_not_written_yet(tmp_path: Path) -> None:
    xl = FakeXl()
    module = FakeModule(xl, check_mode=True, name="web1", config=str(tmp_path / "missing.cfg"))
    result = xl_domain.ensure(module)
    assert result["changed"] is True and xl.mutating_calls() == []
    assert module.warnings


def test_stopped_when_running(config: str) -> None:
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    xl.calls.clear()
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, state="stopped"))
    assert result["changed"] is True and result["domid"] is None
    assert xl.mutating_calls() == [["timeout", "120", XL, "shutdown", "-F", "-w", "1"]]
    assert result["diff"] == {"before": "state: running\n", "after": "state: stopped\n"}
    assert Path(config + ".applied").exists(), "stopped keeps the record"
    again = xl_domain.ensure(FakeModule(xl, name="web1", config=config, state="stopped"))
    assert again["changed"] is False


def test_stopped_destroys_after_shutdown_timeout(config: str) -> None:
    xl = FakeXl(shutdown_works=False)
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    xl.calls.clear()
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, state="stopped", shutdown_timeout=5))
    assert result["changed"] is True
    assert xl.mutating_calls() == [["timeout", "5", XL, "shutdown", "-F", "-w", "1"], [XL, "destroy", "1"]]
    assert xl.domains == {}


def test_absent_removes_domain_and_record_only(tmp_path: Path, config: str) -> None:
    disk = tmp_path / "web1.qcow2"
    disk.write_bytes(b"QFI\xfb")
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, state="absent"))
    assert result["changed"] is True
    assert xl.domains == {}
    assert not Path(config + ".applied").exists()
    assert Path(config).exists() and disk.exists()


def test_absent_when_not_present_is_a_noop(config: str) -> None:
    xl = FakeXl({"other": 4})
    result = xl_domain.ensure(FakeModule(xl, name="web1", state="absent"))
    assert result == {"changed": False, "config_outdated": False, "domid": None, "commands": []}
    assert xl.mutating_calls() == []
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, state="absent"))
    assert result["changed"] is False


def start_monitor_lookalike(config: str) -> subprocess.Popen[bytes]:
    """A real process whose command line is `xl create -p CONFIG`, as xl's monitor child has.

    Popen returns once exec has begun, but the kernel sets up the new command line a moment
    later: until then /proc/PID/cmdline is empty, so wait for it before a test looks.
    """
    process = subprocess.Popen(["xl", "-c", "import time; time.sleep(120)", "create", "-p", config],
                               executable=sys.executable)
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    deadline = time.monotonic() + 10
    while config.encode() not in cmdline.read_bytes():
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"lookalike monitor {process.pid} never showed its command line")
        time.sleep(0.01)
    return process


@pytest.fixture
def monitor(config: str) -> Iterator[subprocess.Popen[bytes]]:
    process = start_monitor_lookalike(config)
    yield process
    process.kill()
    process.wait()


def test_monitor_pids_finds_only_xl_create_of_that_config(tmp_path: Path, config: str,
                                                          monitor: subprocess.Popen[bytes]) -> None:
    other = start_monitor_lookalike(str(tmp_path / "other.cfg"))
    try:
        assert xl_domain.monitor_pids(config) == [monitor.pid]
    finally:
        other.kill()
        other.wait()


def test_absent_ends_the_monitor_of_a_domain_between_two_reboots(config: str,
                                                                 monitor: subprocess.Popen[bytes]) -> None:
    # The domain is ours (record written by a create) but not listed right now: its monitor
    # is about to create it again for on_reboot=restart.
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    xl.domains.clear()
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, state="absent"))
    assert monitor.wait(timeout=5) == -15, "the monitor got SIGTERM"
    assert result["changed"] is True
    assert result["commands"] == [["kill", "-TERM", str(monitor.pid)]]
    assert not Path(config + ".applied").exists()


def test_stop_ends_the_monitor_before_xl_shutdown(config: str, monitor: subprocess.Popen[bytes]) -> None:
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    xl.calls.clear()
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, state="stopped"))
    assert monitor.poll() == -15
    assert result["commands"][0] == ["kill", "-TERM", str(monitor.pid)]
    assert result["commands"][1][3:5] == ["shutdown", "-F"]


def test_check_mode_and_foreign_domains_leave_monitors_alone(config: str,
                                                             monitor: subprocess.Popen[bytes]) -> None:
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    checked = FakeModule(xl, check_mode=True, name="web1", config=config, state="absent")
    xl_domain.ensure(checked)
    assert any("would be stopped" in warning for warning in checked.warnings)
    Path(config + ".applied").unlink()
    xl.domains.clear()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config, state="absent"))
    assert monitor.poll() is None, "no record, no proof the domain is ours: its monitor lives"


def test_foreign_domain_is_never_touched(config: str) -> None:
    xl = FakeXl({"web1": 9})
    for state in ("running", "stopped", "absent"):
        with pytest.raises(xl_domain.XlError, match="xl_domain"):
            xl_domain.ensure(FakeModule(xl, name="web1", config=config, state=state))
    assert xl.mutating_calls() == []
    assert xl.domains == {"web1": 9}


def test_a_domain_that_took_the_name_after_a_reboot_is_never_touched(config: str) -> None:
    """hvlab's record is still there, but the domain of that name is someone else's (another uuid)."""
    xl = FakeXl()
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    xl.domains, xl.uuids = {"web1": 1}, {}  # the host rebooted; an admin created their own web1
    for state in ("running", "stopped", "absent"):
        xl.calls.clear()
        with pytest.raises(xl_domain.XlError, match=f"its uuid {FOREIGN} is not the uuid {OURS} recorded"):
            xl_domain.ensure(FakeModule(xl, name="web1", config=config, state=state, recreate=True))
        assert xl.mutating_calls() == []
    assert xl.domains == {"web1": 1}
    assert Path(config + ".applied").exists()


def test_failed_create_writes_no_record(config: str) -> None:
    xl = FakeXl(create_rc=1)
    with pytest.raises(xl_domain.XlError, match=r"xl create .* failed \(rc=1\): libxl: error"):
        xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    assert not Path(config + ".applied").exists()


def test_failed_create_keeps_the_old_record(config: str) -> None:
    Path(config + ".applied").write_text("old config\n")
    with pytest.raises(xl_domain.XlError, match="xl create"):
        xl_domain.ensure(FakeModule(FakeXl(create_rc=1), name="web1", config=config))
    assert Path(config + ".applied").read_text() == "old config\n"


def test_a_create_that_fails_halfway_still_leaves_proof_of_ownership(config: str) -> None:
    """xl failed but the domain exists: the record stays, so teardown can remove the domain."""
    xl = FakeXl(create_rc=1, create_leaves_domain=True)
    with pytest.raises(xl_domain.XlError, match="xl create"):
        xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    assert Path(config + ".applied").read_text() == Path(config).read_text()
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, state="absent"))
    assert result["changed"] is True and "web1" not in xl.domains


def test_the_record_exists_before_xl_create_runs(config: str) -> None:
    seen: list[bool] = []
    xl = FakeXl()
    real_call = xl.__call__

    def spying(argv: list[str], **kwargs: Any) -> tuple[int, str, str]:
        if "create" in argv:
            seen.append(Path(config + ".applied").exists())
        return real_call(argv, **kwargs)

    module = FakeModule(xl, name="web1", config=config)
    module.run_command = spying  # type: ignore[method-assign]
    xl_domain.ensure(module)
    assert seen == [True]


def test_invalid_xl_list_output_fails_clearly(config: str) -> None:
    xl = FakeXl(list_output="(domain (domid 0))")
    with pytest.raises(xl_domain.XlError, match="cannot parse `xl list -l` output as JSON"):
        xl_domain.ensure(FakeModule(xl, name="web1", config=config))


@pytest.mark.parametrize("name", ["1", "42", "8c4f0d2e-0000-4000-8000-000000000001",
                                  "8c4f0d2e000040008000000000000001"])
def test_names_xl_reads_as_a_domid_or_uuid_are_refused_before_xl_runs(name: str, config: str) -> None:
    xl = FakeXl({"other": 1})
    for state in ("running", "absent"):
        with pytest.raises(xl_domain.XlError, match="domain id or UUID"):
            xl_domain.ensure(FakeModule(xl, name=name, config=config, state=state))
    assert xl.calls == []


def test_stop_acts_on_the_domid_xl_list_gave_for_the_name(config: str) -> None:
    """Never the name: a foreign domain whose name is that domid's digits must not be the one hit."""
    xl = FakeXl({"other": 3})
    xl_domain.ensure(FakeModule(xl, name="web1", config=config))
    assert xl.domains == {"other": 3, "web1": 4}
    xl.calls.clear()
    checked = xl_domain.ensure(FakeModule(xl, check_mode=True, name="web1", config=config, state="absent"))
    assert checked["commands"] == [["timeout", "120", XL, "shutdown", "-F", "-w", "4"]]
    result = xl_domain.ensure(FakeModule(xl, name="web1", config=config, state="absent"))
    assert result["commands"] == [["timeout", "120", XL, "shutdown", "-F", "-w", "4"]]
    assert xl.domains == {"other": 3}


@pytest.mark.parametrize("name", ["Domain-0", "we<b", "web 1", "../x", 'a"b', "web1\n"])
def test_bad_names_are_refused_before_xl_runs(name: str, config: str) -> None:
    xl = FakeXl()
    with pytest.raises(xl_domain.XlError, match="name must be a DNS label"):
        xl_domain.ensure(FakeModule(xl, name=name, config=config))
    assert xl.calls == []


# --- the module's interface ---------------------------------------------------------------------

def test_documentation_matches_argument_spec() -> None:
    import yaml

    doc = yaml.safe_load(xl_domain.DOCUMENTATION)
    assert doc["module"] == "xl_domain"
    yaml.safe_load(xl_domain.EXAMPLES)
    yaml.safe_load(xl_domain.RETURN)
    source = (ROOT / "plugins" / "modules" / "xl_domain.py").read_text()
    for option, spec in doc["options"].items():
        assert f'"{option}": {{"type": "{spec["type"]}"' in source
        if "default" in spec:
            assert repr(spec["default"]).replace("'", '"') in source
