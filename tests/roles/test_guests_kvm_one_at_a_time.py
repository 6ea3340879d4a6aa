"""The guests role's one-at-a-time start on KVM (guests_kvm_parallel_start off, kvm_start_one.yml).

Under nested KVM in QEMU TCG, two guests booting at once crashed one of them or the host, so
an emulated host starts each guest only once the one before answered on SSH. This runs the
real task file with ansible-playbook on localhost; the two modules that need a hypervisor,
community.libvirt.virt and hvlab.lab.guest_ssh_wait, are stand-ins from a scratch collections
path that log what they were asked, in order. The lab scenario runs the real ones.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from role_runner import ROOT

VIRT_STUB = """#!/usr/bin/python
import os
from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule(argument_spec={"name": {}, "state": {}, "uri": {}}, supports_check_mode=True)
with open(os.environ["STUB_LOG"], "a") as log:
    log.write("start " + module.params["name"] + "\\n")
module.exit_json(changed=True)
"""

WAIT_STUB = """#!/usr/bin/python
import os
import time
from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule(argument_spec={"name": {}, "stack": {}, "address": {}, "timeout": {"type": "int"},
                                      "console_log": {}, "resets": {"type": "int"}})
name = module.params["name"]
with open(os.environ["STUB_LOG"], "a") as log:
    log.write("wait " + name + " " + module.params["address"] + " " + module.params["console_log"] + "\\n")
if name == os.environ.get("STUB_DIES", ""):
    module.fail_json(msg="guest " + name + " will not answer on SSH: its console says Kernel panic")
time.sleep(1)
module.exit_json(changed=False, elapsed=1.0, resets=[])
"""

GUESTS = [{"name": f"g{i}", "address": f"10.77.0.1{i}"} for i in (1, 2)]


def start_one_at_a_time(tmp_path: Path, dies: str = "") -> tuple[subprocess.CompletedProcess[str], list[str], dict]:
    """Run kvm_start_one.yml for g1 then g2; return the run, the stand-ins' log and __guests_one_boots."""
    collections = tmp_path / "collections" / "ansible_collections"
    for path, body in ((collections / "community" / "libvirt" / "plugins" / "modules" / "virt.py", VIRT_STUB),
                       (collections / "hvlab" / "lab" / "plugins" / "modules" / "guest_ssh_wait.py", WAIT_STUB)):
        path.parent.mkdir(parents=True)
        path.write_text(body)
    plan = [g | {"dir": str(tmp_path / g["name"])} for g in GUESTS]
    for guest in plan:
        Path(guest["dir"]).mkdir()
        Path(guest["dir"], "console.log").write_text(f"booting {guest['name']}\nKernel panic - not syncing\n")
    out = tmp_path / "boots.json"
    play = [{"name": "Start the guests one at a time", "hosts": "localhost", "gather_facts": False,
             "vars": {"__guests_plan": plan, "__guests_one_boots": {},
                      "__guests_virsh_list": {"stdout_lines": ["g1", "g2"]}},
             "tasks": [{"name": "Start each",
                        "ansible.builtin.include_role": {"name": "guests", "tasks_from": "kvm_start_one"},
                        "loop": "{{ __guests_plan }}", "loop_control": {"loop_var": "__guests_one"}},
                       {"name": "Keep the boots", "ansible.builtin.copy": {
                           "content": "{{ __guests_one_boots | to_json }}", "dest": str(out), "mode": "0600"}}]}]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    # a KVM host: the role's vars read the stack from the host's groups
    inventory = {"kvm_hosts": {"hosts": {"localhost": {"ansible_connection": "local"}}}}
    (tmp_path / "inventory.yml").write_text(json.dumps(inventory))
    log = tmp_path / "stub.log"
    log.touch()
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
               ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"), ANSIBLE_NOCOLOR="1",
               STUB_LOG=str(log), STUB_DIES=dies)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(tmp_path / "inventory.yml"),
         "-e", f"ansible_python_interpreter={sys.executable}", str(tmp_path / "play.yml")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    boots = json.loads(out.read_text()) if out.exists() else {}
    return result, log.read_text().splitlines(), boots


def test_each_guest_starts_once_the_one_before_answered(tmp_path: Path) -> None:
    result, log, boots = start_one_at_a_time(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert [line.split()[:2] for line in log] == [["start", "g1"], ["wait", "g1"], ["start", "g2"], ["wait", "g2"]]
    # each waited for at its own address, its console log in its own directory
    assert log[1].split()[2:] == ["10.77.0.11", str(tmp_path / "g1" / "console.log")]
    # each boot is its own: from just before its start until its SSH answered, after the one before
    assert sorted(boots) == ["g1", "g2"]
    for boot in boots.values():
        assert boot["started_at"] <= boot["running_at"] <= boot["answered_at"]
        assert boot["answered_at"] - boot["running_at"] >= 1.0  # the stand-in's wait takes 1 s
    assert boots["g2"]["started_at"] >= boots["g1"]["answered_at"]


def test_a_guest_that_never_answers_stops_the_starts_and_shows_its_console(tmp_path: Path) -> None:
    result, log, boots = start_one_at_a_time(tmp_path, dies="g1")
    assert result.returncode != 0
    # g2 is never started beside a guest that did not answer
    assert [line.split()[:2] for line in log] == [["start", "g1"], ["wait", "g1"]]
    assert "1 guest(s) did not answer on SSH: g1." in result.stdout
    assert "its console says Kernel panic" in result.stdout
    assert "booting g1" in result.stdout  # the console's last lines
    assert boots == {}
