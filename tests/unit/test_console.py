"""`hvlab console` / `hvlab console-log`: the ssh argv for each stack, built from the inventory.

ssh never runs: os.execvp and subprocess.run are faked for it and record the argv.
ansible-inventory does run, on small inventories written here and on the virtual lab's
generated one, since it is what resolves group_vars and groups for these commands.
"""

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from hvlab import cli, guest_console, labhosts
from hvlab.errors import HvlabError
from hvlab.vlab import inventory

ROOT = Path(__file__).resolve().parents[2]
GUESTS = [{"name": "g1", "vcpus": 1, "memory_mib": 512, "disk_gib": 4},
          {"name": "web-01", "vcpus": 1, "memory_mib": 512, "disk_gib": 4}]


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argv `hvlab console` would exec, recorded instead."""
    seen: list[list[str]] = []
    monkeypatch.setattr(cli.os, "execvp", lambda _file, argv: seen.append(list(argv)))
    return seen


@pytest.fixture
def ssh_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """ssh commands recorded and answered with two log lines; anything else runs as usual."""
    seen: list[list[str]] = []
    real_run = subprocess.run

    def fake_run(cmd: Any, *args: Any, **kwargs: Any) -> Any:
        if cmd[0] == "ssh":
            seen.append(list(cmd))
            return subprocess.CompletedProcess(cmd, 0, f"line 1 from {cmd[cmd.index('--') + 1]}\nline 2\n", "")
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", fake_run)
    return seen


def invoke(*args: str) -> Result:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click 8.1
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli.main, list(args))


def write_inventory(directory: Path, hosts: dict[str, Any], group_vars: dict[str, Any]) -> Path:
    """A real-lab inventory: hosts.yml (groups) and group_vars/all.yml, as inventories/example has."""
    (directory / "group_vars").mkdir(parents=True)
    (directory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": hosts}}))
    (directory / "group_vars" / "all.yml").write_text(yaml.safe_dump(group_vars))
    return directory


@pytest.fixture
def real_lab(tmp_path: Path) -> Path:
    """Two KVM hosts (one in a child group) and one Xen host, logging in as an admin with sudo."""
    return write_inventory(
        tmp_path / "lab",
        {"kvm_hosts": {"hosts": {"kvm-a": {"ansible_host": "192.0.2.11", "ansible_port": 2200}},
                       "children": {"rack2": {"hosts": {"kvm-b": {"ansible_host": "192.0.2.13"}}}}},
         "xen_hosts": {"hosts": {"xen-a": {"ansible_host": "192.0.2.12", "guests_dir": "/srv/lab/guests"}}}},
        {"ansible_user": "admin", "ansible_become": True, "ansible_ssh_private_key_file": "/keys/lab",
         "ansible_ssh_common_args": "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/keys/known_hosts",
         "hvlab_guests": GUESTS},
    )


def remote(argv: list[str]) -> list[str]:
    """The remote command of an ssh argv, split as the host's shell splits it."""
    return shlex.split(argv[-1])


def listing(**hostvars: dict[str, Any]) -> dict[str, Any]:
    """`ansible-inventory --list` output: hosts named kvm* in kvm_hosts, the others in xen_hosts."""
    kvm = [name for name in hostvars if name.startswith("kvm")]
    return {"_meta": {"hostvars": hostvars}, "all": {"children": ["kvm_hosts", "xen_hosts"]},
            "kvm_hosts": {"hosts": kvm}, "xen_hosts": {"hosts": [n for n in hostvars if n not in kvm]}}


# --- the argv for each stack ------------------------------------------------------------------


def test_attach_argv_for_each_stack() -> None:
    common = {"ansible_user": "root", "ansible_ssh_common_args": "-o UserKnownHostsFile=/k/known_hosts"}
    kvm, xen = labhosts.hosts_from_listing(
        listing(kvm1={**common, "ansible_host": "127.0.0.1", "ansible_port": 2221},
                xen1={**common, "ansible_host": "127.0.0.1", "ansible_port": 2222}), "lab")
    assert guest_console.attach_command("g1", kvm) == [
        "ssh", "-t", "-o", "Port=2221", "-o", "User=root", "-o", "UserKnownHostsFile=/k/known_hosts",
        "--", "127.0.0.1", "virsh -c qemu:///system console --domain g1"]
    assert guest_console.attach_command("g1", xen) == [
        "ssh", "-t", "-o", "Port=2222", "-o", "User=root", "-o", "UserKnownHostsFile=/k/known_hosts",
        "--", "127.0.0.1", "xl console g1"]


def test_no_force_so_an_open_console_is_never_taken_over() -> None:
    kvm = labhosts.hosts_from_listing(listing(kvm1={}), "lab")[0]
    assert "--force" not in remote(guest_console.attach_command("g1", kvm))


def test_become_runs_under_sudo_which_may_ask_only_on_a_terminal() -> None:
    host = labhosts.hosts_from_listing(listing(kvm1={"ansible_user": "admin", "ansible_become": "yes"}), "lab")[0]
    assert remote(guest_console.attach_command("g1", host))[:2] == ["sudo", "--"]
    assert remote(host.ssh_command(["tail", "x"]))[:3] == ["sudo", "-n", "--"]
    root = labhosts.hosts_from_listing(listing(kvm1={"ansible_user": "root", "ansible_become": True}), "lab")[0]
    assert remote(guest_console.attach_command("g1", root))[0] == "virsh"


@pytest.mark.parametrize("name", ["web-01", "a", "0a", "x" * 63, "3-3"])
def test_odd_but_valid_names_reach_the_host_as_one_word(name: str) -> None:
    kvm, xen = labhosts.hosts_from_listing(listing(kvm1={}, xen1={}), "lab")
    assert remote(guest_console.attach_command(name, kvm))[-2:] == ["--domain", name]
    assert remote(guest_console.attach_command(name, xen))[-1] == name
    assert guest_console.log_path(name, xen, "lab") == f"/var/log/xen/console/guest-{name}.log"


def test_a_key_path_with_spaces_stays_one_argument_and_remote_words_are_quoted() -> None:
    host = labhosts.hosts_from_listing(listing(kvm1={"ansible_ssh_private_key_file": "/my keys/lab key"}), "lab")[0]
    argv = host.ssh_command(["tail", "--", "/a dir/it's.log"])
    assert argv[argv.index("-i") + 1] == "/my keys/lab key"
    assert remote(argv) == ["tail", "--", "/a dir/it's.log"]


# --- names refused before anything runs ---------------------------------------------------------


@pytest.mark.parametrize("name", ["3", "0123", "8c4f0d2e-0000-4000-8000-000000000001",
                                  "8c4f0d2e00004000800000000000000f", "G1", "a;reboot", "$(id)", "-t",
                                  "../g1", "a b", "g1\n", ""])
def test_bad_names_are_refused_before_anything_runs(
        name: str, execs: list[list[str]], ssh_runs: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labhosts, "load", lambda _p: pytest.fail("the inventory was read"))
    for args in (["console", "--", name], ["console-log", "--", name]):
        result = invoke(*args)
        assert result.exit_code == 1, result.output
        assert "not a valid hvlab guest name" in result.stderr
    assert execs == [] and ssh_runs == []


def test_the_functions_refuse_a_bad_name_too() -> None:
    kvm = labhosts.hosts_from_listing(listing(kvm1={}), "lab")[0]
    for call in (lambda: guest_console.attach_command("3", kvm), lambda: guest_console.log_path("3", kvm, "lab")):
        with pytest.raises(HvlabError, match="not a valid hvlab guest name"):
            call()


# --- which host -----------------------------------------------------------------------------------


def test_without_host_a_guest_on_several_hosts_asks_which(real_lab: Path, execs: list[list[str]]) -> None:
    result = invoke("console", "g1", "-i", str(real_lab))
    assert result.exit_code == 1
    assert "g1 runs on 3 hosts: kvm-a (KVM), kvm-b (KVM), xen-a (Xen); choose one with --host" in result.stderr
    assert execs == []


def test_an_unknown_host_lists_the_choices(real_lab: Path, execs: list[list[str]]) -> None:
    result = invoke("console", "g1", "--host", "xen-b", "-i", str(real_lab))
    assert result.exit_code == 1
    assert "--host 'xen-b' does not run g1; it runs on: kvm-a (KVM), kvm-b (KVM), xen-a (Xen)" in result.stderr
    assert execs == []


def test_a_guest_not_in_the_spec_names_the_guests_there(real_lab: Path, execs: list[list[str]]) -> None:
    result = invoke("console", "g2", "-i", str(real_lab))
    assert result.exit_code == 1
    assert "no lab host has a guest 'g2' in hvlab_guests (guests: g1, web-01)" in result.stderr
    assert execs == []


def test_only_the_hosts_whose_spec_holds_the_guest_run_it() -> None:
    hosts = labhosts.hosts_from_listing(listing(kvm1={"hvlab_guests": GUESTS},
                                                xen1={"hvlab_guests": GUESTS[:1]}), "lab")
    running = guest_console.hosts_running("web-01", hosts, "lab")
    assert [host.name for host in running] == ["kvm1"]
    assert guest_console.one_host("web-01", running, None).name == "kvm1"


def test_an_invalid_spec_on_a_host_is_named() -> None:
    hosts = labhosts.hosts_from_listing(listing(kvm1={"hvlab_guests": [{"name": "3"}]}), "lab")
    with pytest.raises(HvlabError, match=r"^lab: kvm1: invalid hvlab_guests"):
        guest_console.hosts_running("g1", hosts, "lab")


def test_a_host_in_both_groups_is_a_kvm_host_as_for_the_guests_role() -> None:
    data = listing(kvm1={})
    data["xen_hosts"] = {"hosts": ["kvm1"]}
    assert [(h.name, h.stack) for h in labhosts.hosts_from_listing(data, "lab")] == [("kvm1", "kvm")]


# --- -i INVENTORY, resolved by ansible-inventory ---------------------------------------------------


def test_console_on_a_real_lab_uses_its_connection_details(real_lab: Path, execs: list[list[str]]) -> None:
    result = invoke("console", "web-01", "--host", "kvm-b", "-i", str(real_lab))
    assert result.exit_code == 0, result.stderr
    assert execs == [[
        "ssh", "-t", "-o", "User=admin", "-i", "/keys/lab",
        "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/keys/known_hosts",
        "--", "192.0.2.13", "sudo -- virsh -c qemu:///system console --domain web-01"]]
    assert "Ctrl-]" in result.stderr


def test_console_log_prints_every_host_s_tail_under_a_header(real_lab: Path, ssh_runs: list[list[str]]) -> None:
    result = invoke("console-log", "g1", "-n", "5", "-i", str(real_lab))
    assert result.exit_code == 0, result.stderr
    assert [remote(argv) for argv in ssh_runs] == [
        ["sudo", "-n", "--", "tail", "-n", "5", "--", "/var/lib/hvlab/guests/g1/console.log"],
        ["sudo", "-n", "--", "tail", "-n", "5", "--", "/var/lib/hvlab/guests/g1/console.log"],
        ["sudo", "-n", "--", "tail", "-n", "5", "--", "/var/log/xen/console/guest-g1.log"]]
    assert "-t" not in ssh_runs[0]
    assert result.stdout.splitlines()[:3] == [
        "==> kvm-a (KVM): /var/lib/hvlab/guests/g1/console.log <==", "line 1 from 192.0.2.11", "line 2"]
    assert "==> xen-a (Xen): /var/log/xen/console/guest-g1.log <==" in result.stdout


def test_console_log_of_one_host_has_no_header(real_lab: Path, ssh_runs: list[list[str]]) -> None:
    result = invoke("console-log", "g1", "--host", "kvm-a", "-i", str(real_lab))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "line 1 from 192.0.2.11\nline 2\n"
    assert ssh_runs == [[
        "ssh", "-o", "Port=2200", "-o", "User=admin", "-i", "/keys/lab",
        "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/keys/known_hosts",
        "--", "192.0.2.11", "sudo -n -- tail -n 40 -- /var/lib/hvlab/guests/g1/console.log"]]


def test_a_kvm_host_s_guests_dir_names_the_log(tmp_path: Path) -> None:
    kvm = labhosts.hosts_from_listing(listing(kvm1={"guests_dir": "/srv/lab/guests"}), "lab")[0]
    assert guest_console.log_path("g1", kvm, "lab") == "/srv/lab/guests/g1/console.log"
    for bad in ("/var/lib", "relative", "/a/../b", "{{ somewhere }}"):
        kvm = labhosts.hosts_from_listing(listing(kvm1={"guests_dir": bad}), "lab")[0]
        with pytest.raises(HvlabError, match="guests_dir"):
            guest_console.log_path("g1", kvm, "lab")


def test_a_xen_host_without_console_logging_says_so(tmp_path: Path, ssh_runs: list[list[str]]) -> None:
    lab = write_inventory(tmp_path / "lab", {"kvm_hosts": {"hosts": {"kvm1": {}}},
                                             "xen_hosts": {"hosts": {"xen1": {"xen_host_console_log": "no"}}}},
                          {"hvlab_guests": GUESTS})
    result = invoke("console-log", "g1", "-i", str(lab))
    assert result.exit_code == 1
    assert "xen1 (Xen) keeps no console log for g1 (xen_host_console_log is off)" in result.stderr
    assert [argv[argv.index("--") + 1] for argv in ssh_runs] == ["kvm1"]  # the KVM log is still printed
    assert "line 1 from kvm1" in result.stdout


def test_a_failed_tail_is_an_error_naming_the_host(
        real_lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = subprocess.run

    def fake_run(cmd: Any, *args: Any, **kwargs: Any) -> Any:
        if cmd[0] == "ssh":
            return subprocess.CompletedProcess(cmd, 1, "", "tail: cannot open 'x' for reading: No such file\n")
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", fake_run)
    result = invoke("console-log", "g1", "--host", "xen-a", "-i", str(real_lab))
    assert result.exit_code == 1
    assert "xen-a (Xen): tail: cannot open 'x' for reading: No such file" in result.stderr


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("ansible_host", "-oProxyCommand=x", "must be a host name or IP address"),
    ("ansible_host", "a b", "must be a host name or IP address"),
    ("ansible_user", "root@evil", "must be a user name"),
    ("ansible_port", "22x", "must be a port number"),
    ("ansible_port", 0, "must be a port number"),
    ("ansible_ssh_private_key_file", "{{ lookup('env', 'KEY') }}", "is a Jinja template"),
    ("ansible_ssh_common_args", "-o A=b\n-o C=d", "must be one line of text"),
    ("ansible_become", "maybe", "must be a boolean"),
    ("ansible_become_method", "su", "by su; hvlab uses sudo only"),
    ("ansible_connection", "local", "ansible_connection=local"),
])
def test_connection_values_are_allow_listed(variable: str, value: object, message: str) -> None:
    become = {"ansible_become": True} if variable == "ansible_become_method" else {}
    with pytest.raises(HvlabError, match=message.replace("{", r"\{")):
        labhosts.hosts_from_listing(listing(kvm1={variable: value, **become}), "lab")


def test_an_inventory_without_lab_hosts_is_refused() -> None:
    with pytest.raises(HvlabError, match="no host in kvm_hosts or xen_hosts"):
        labhosts.hosts_from_listing({"_meta": {"hostvars": {}}, "all": {"hosts": ["web"]}}, "lab")


def test_an_inventory_ansible_cannot_parse_is_named_with_ansible_s_words(tmp_path: Path) -> None:
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "hosts.yml").write_text("all: [\n")
    with pytest.raises(HvlabError, match=r"no host in kvm_hosts or xen_hosts; ansible-inventory: .*hosts\.yml"):
        labhosts.load(tmp_path / "lab")


# --- the virtual lab by default -----------------------------------------------------------------


def test_the_virtual_lab_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        execs: list[list[str]]) -> None:
    monkeypatch.setenv("HVLAB_ACCEL", "tcg")
    vlab = tmp_path / "project" / "inventories" / "vlab"
    (vlab / "group_vars").mkdir(parents=True)
    shutil.copy(ROOT / "inventories" / "vlab" / "group_vars" / "all.yml", vlab / "group_vars" / "all.yml")
    assert invoke("console", "g1", "--host", "xen1").stderr.count("run: hvlab vlab up") == 1
    inventory.write()
    result = invoke("console", "g1", "--host", "xen1")
    assert result.exit_code == 0, result.stderr
    state = tmp_path / "state" / "vlab"
    assert execs == [[
        "ssh", "-t", "-o", "Port=2222", "-o", "User=root", "-i", str(state / "id_ed25519"),
        "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={state / 'xen1' / 'known_hosts'}",
        "--", "127.0.0.1", "xl console g1"]]
