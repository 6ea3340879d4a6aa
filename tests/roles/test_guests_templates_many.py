"""The guests role's list templates (plan.j2, deployed.j2) with several guests, through real Ansible.

Ansible's template lookup trims the newline after a block tag (trim_blocks), which once
joined YAML list items on one line as soon as a host had two guests: the lookups are run
here with three guests by ansible-playbook on localhost, and their parsed output checked.
A guest with nics is planned and given its network-config on a KVM and a Xen host in one play.
"""

import json
import subprocess
import sys
from pathlib import Path

from role_runner import ROOT

from hvlab.netspec import network_config, parse_networks
from hvlab.spec import parse_guests

TEMPLATES = ROOT / "roles" / "guests" / "templates"
GUESTS = [{"name": f"g{i}", "vcpus": 1, "memory_mib": 256, "disk_gib": 4, "xen_type": "pvh", "cpu_pinning": None,
           "network": None} for i in range(1, 4)]

PLAY = f"""
- name: Render the guests role's list templates
  hosts: localhost
  gather_facts: false
  vars:
    __guests_stack: xen
    __guests: {json.dumps(GUESTS)}
    __guests_net_cidr: 10.77.0.0/24
    __guests_net_gateway: 10.77.0.1
    guests_address_offset: 10
    guests_dir: /var/lib/hvlab/guests
    guests_user: hvlab
    __guests_key: /keys/id
    __guests_jump: "ssh -W %h:%p host"
    __guests_started_now: [g1, g3]
    __guests_started_at: 1000.0
    __guests_running_at: 1001.5
    __guests_wait_from: 1004.0
    __guests_ssh_waits:
      results: [{{elapsed: 20, resets: [Kernel panic]}}, {{elapsed: 2, resets: []}}, {{elapsed: 3, resets: []}}]
  tasks:
    - name: Plan
      ansible.builtin.set_fact:
        __guests_plan: "{{{{ lookup('ansible.builtin.template', '{TEMPLATES / 'plan.j2'}') | from_yaml }}}}"
    - name: Describe
      ansible.builtin.set_fact:
        deployed: "{{{{ lookup('ansible.builtin.template', '{TEMPLATES / 'deployed.j2'}') | from_yaml }}}}"
    - name: Write what they gave
      ansible.builtin.copy:
        content: "{{{{ {{'plan': __guests_plan, 'deployed': deployed}} | to_json }}}}"
        dest: "{{{{ out }}}}"
        mode: "0644"
"""


def render(tmp_path: Path, extra: dict[str, object] | None = None) -> tuple[list[dict], list[dict]]:
    """Run PLAY (its variables overridden by `extra`); return the plan and the inventory entries."""
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    (tmp_path / "extra.json").write_text(json.dumps(extra or {}))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
         "-e", f"out={tmp_path / 'out.json'}", "-e", f"ansible_python_interpreter={sys.executable}",
         "-e", f"@{tmp_path / 'extra.json'}", str(play)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={"PATH": "/usr/bin:/bin", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
             "ANSIBLE_STDOUT_CALLBACK": "default", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    shown = json.loads((tmp_path / "out.json").read_text())
    return shown["plan"], shown["deployed"]


def test_three_guests_give_three_plans_and_three_inventory_entries(tmp_path: Path) -> None:
    plan, deployed = render(tmp_path)
    assert [(p["name"], p["address"], p["dir"]) for p in plan] == [
        (f"g{i}", f"10.77.0.{9 + i}", f"/var/lib/hvlab/guests/g{i}") for i in range(1, 4)]
    assert len({p["mac"] for p in plan}) == 3 and all(p["mac"].startswith("00:16:3e:") for p in plan)
    # each Xen guest's own uuid (its xl config sets it; xl_domain's ownership proof), not in its spec
    assert len({p["uuid"] for p in plan}) == 3
    assert all("uuid" not in d["vars"]["hvlab_guest_spec"] for d in deployed)
    assert [(d["inventory_name"], d["group"], d["vars"]["ansible_host"]) for d in deployed] == [
        (f"localhost-g{i}", "xen_guests", f"10.77.0.{9 + i}") for i in range(1, 4)]
    # Boot time of a guest started now: SSH wait start - start + the waits up to and including its own.
    assert [d["vars"].get("hvlab_guest_boot_seconds") for d in deployed] == [24.0, None, 29.0]
    # Domain creation is this host's own, until its domains ran, not until the wait began: a host
    # of the other stack in the same play holds the wait back by its own creation.
    assert [d["vars"].get("hvlab_guest_create_seconds") for d in deployed] == [1.5, None, 1.5]
    # the resets guest_ssh_wait made during that boot (a guest not started now has no boot at all)
    assert [d["vars"].get("hvlab_guest_boot_resets") for d in deployed] == [1, None, 0]
    assert deployed[0]["vars"]["hvlab_guest_spec"] == GUESTS[0]



def test_guests_started_one_at_a_time_each_have_their_own_boot_time(tmp_path: Path) -> None:
    # kvm_start_one.yml's record: each from just before its own start until its SSH answered;
    # the later waits of inventory.yml (which find them up at once) do not count.
    _, deployed = render(tmp_path, {
        "__guests_started_now": ["g1", "g2", "g3"],
        "__guests_one_boots": {"g1": {"started_at": 1000.0, "running_at": 1000.5, "answered_at": 1240.0},
                               "g2": {"started_at": 1240.5, "running_at": 1242.0, "answered_at": 1500.25,
                                      "resets": 1}}})
    assert [d["vars"].get("hvlab_guest_boot_seconds") for d in deployed] == [240.0, 259.8, 29.0]
    assert [d["vars"].get("hvlab_guest_create_seconds") for d in deployed] == [0.5, 1.5, 1.5]
    assert [d["vars"].get("hvlab_guest_boot_resets") for d in deployed] == [0, 1, 0]
    assert [d["vars"].get("hvlab_guest_boot_started") for d in deployed] == [
        "1970-01-01T00:16:40Z", "1970-01-01T00:20:40Z", "1970-01-01T00:16:40Z"]

# --- a guest with nics: the same network-config bytes on a KVM and a Xen host -----------------

NETWORKS_RAW = [{"name": "lab", "cidr": "10.80.0.0/24"},
                {"name": "store", "cidr": "10.81.0.0/24", "dhcp_range": ["10.81.0.100", "10.81.0.199"]}]

NICS_PLAY = f"""
- name: Render the plan and each guest's network-config as seeds.yml does
  hosts: all
  gather_facts: false
  tasks:
    - name: Plan
      ansible.builtin.set_fact:
        __guests_plan: "{{{{ lookup('ansible.builtin.template', '{TEMPLATES / 'plan.j2'}') | from_yaml }}}}"
    - name: Render network-config for each guest
      ansible.builtin.set_fact:
        configs: "{{{{ configs | default({{}}) | combine({{item.name: __config}}) }}}}"
      loop: "{{{{ __guests_plan }}}}"
      vars:
        guest: "{{{{ item }}}}"
        __config: "{{{{ lookup('ansible.builtin.template', '{TEMPLATES / 'nocloud' / 'network-config.j2'}') }}}}"
    - name: Write what they gave
      ansible.builtin.copy:
        content: "{{{{ {{'plan': __guests_plan, 'configs': configs}} | to_json }}}}"
        dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.json"
        mode: "0644"
      delegate_to: localhost
"""


# network-config.j2 of a guest without nics as Ansible renders it, byte for byte as before nics existed.
OLD_NETWORK_CONFIG = """version: 2
ethernets:
  eth0:
    match:
      macaddress: "{mac}"
    set-name: eth0
    addresses: ["10.77.0.11/24"]
    # routes, not gateway4: cloud-init 25 (Debian 13) reports gateway4 as deprecated, which
    # makes `cloud-init status` end "degraded done" with exit code 2.
    routes:
      - to: 0.0.0.0/0
        via: "10.77.0.1"
    nameservers:
      addresses: ["10.77.0.1"]
"""


def test_a_guest_with_nics_gets_the_same_network_config_bytes_on_a_kvm_and_a_xen_host(tmp_path: Path) -> None:
    networks = parse_networks(NETWORKS_RAW)
    guests = [guest.as_dict() for guest in parse_guests([
        {"name": "g1", "vcpus": 1, "memory_mib": 256, "disk_gib": 4, "nics": [
            {"network": "lab", "address": "10.80.0.10"}, {"network": "store", "address": "dhcp"}]},
        {"name": "g2", "vcpus": 1, "memory_mib": 256, "disk_gib": 4}], networks)]
    validated = [net.as_dict() for net in networks]
    common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
              "__guests": guests, "__guests_lab_networks": validated, "guests_address_offset": 10,
              "guests_dir": "/var/lib/hvlab/guests"}
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"vars": common, "hosts": {
        "kvm-a": {"__guests_stack": "kvm", "__guests_net_cidr": "10.77.0.0/24", "__guests_net_gateway": "10.77.0.1"},
        "xen-b": {"__guests_stack": "xen", "__guests_net_cidr": "10.78.0.0/24", "__guests_net_gateway": "10.78.0.1"},
    }}}))
    play = tmp_path / "play.yml"
    play.write_text(NICS_PLAY)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory), "-e", f"out={tmp_path}",
         str(play)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        # The filters import hvlab: this checkout's.
        env={"PATH": "/usr/bin:/bin", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
             "ANSIBLE_STDOUT_CALLBACK": "default", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    kvm, xen = (json.loads((tmp_path / f"{host}.json").read_text()) for host in ("kvm-a", "xen-b"))
    expected = network_config(guests[0]["nics"], validated)
    assert kvm["configs"]["g1"] == expected
    assert kvm["configs"]["g1"].encode() == xen["configs"]["g1"].encode()
    # Reached at its first NIC on both hosts, with that NIC's MAC (the host is the network's gateway).
    for shown in (kvm, xen):
        g1 = shown["plan"][0]
        assert (g1["address"], g1["prefix"], g1["gateway"], g1["mac"]) == (
            "10.80.0.10", 24, "10.80.0.1", guests[0]["nics"][0]["mac"])
    # The guest without nics keeps its host's address (guest 1 from the offset), MAC and text of before.
    assert (kvm["plan"][1]["address"], xen["plan"][1]["address"]) == ("10.77.0.11", "10.78.0.11")
    assert kvm["plan"][1]["mac"].startswith("52:54:00:") and xen["plan"][1]["mac"].startswith("00:16:3e:")
    assert kvm["configs"]["g2"] == OLD_NETWORK_CONFIG.format(mac=kvm["plan"][1]["mac"])

