"""guests and guest_image reject bad input before any domain, disk or host file is touched.

Runs the real roles with ansible-playbook against localhost in check mode (localhost is put
in kvm_hosts, so the guests role takes its KVM path): the spec, variable and capacity checks
come first, so a failing case never reaches a task that creates a directory or a domain.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from role_runner import ROOT, run_role_check

FIRST_CHANGING_TASK = "TASK [guests : Create each new guest directory with hvlab's mark in it]"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnlyxxxxxxxxxxxxxxxxxxxxxxxxx test"
# Each guest fits alone, two together do not (the role reserves memory for the host besides).
HALF_OF_HOST_MIB = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) // 2048
GOOD = {"name": "g1", "vcpus": 1, "memory_mib": 256, "disk_gib": 4, "xen_type": "pvh"}
# What the guest_image role and the host facts would give: the checks after the spec need them.
CONTEXT = {
    "guests_ssh_public_keys": [KEY],
    "guest_image_path": "/nonexistent/image.qcow2",
    "guest_image_sha256": "0" * 64,
    "guest_image_kernel": "/nonexistent/vmlinuz",
    "guest_image_initrd": "/nonexistent/initrd",
    "guests_network_cidr": "10.77.0.0/24",
    "guests_gateway": "10.77.0.1",
}


# A KVM host with no domain, and a Xen host with 4 GiB, 2 CPUs and only Dom0 (1 GiB).
VIRSH_NO_DOMAIN = 'case "$*" in *"list --all --name"*) echo;; *) exit 1;; esac'
XL_INFO = "total_memory           : 4095\nnr_cpus                : 2\nxen_version            : 4.17.5"
XL_LIST = "Name  ID   Mem VCPUs\tState\tTime(s)\nDomain-0  0  1024  2  r-----  10.0"


FOREIGN_UUID = "8c4f0d2e-0000-4000-8000-000000000001"


def xl(*domains: str, uuids: dict[str, str] | None = None) -> str:
    """A stand-in for xl: `xl info`, `xl list` and `xl list -l` of a Xen host running Dom0 and
    `domains` (512 MiB each; uuid from `uuids`, else one xl chose)."""
    rows = "".join(f"\\n{name}  {i + 1}  512  1  -b----  1.0" for i, name in enumerate(domains))
    long = json.dumps([{"domid": 0, "config": {"c_info": {"name": "Domain-0"}}}] + [
        {"domid": i + 1, "config": {"c_info": {"name": name, "uuid": (uuids or {}).get(name, FOREIGN_UUID)}}}
        for i, name in enumerate(domains)])
    return (f'case "$*" in info) printf "{XL_INFO}\\n";; "list -l") cat <<\'EOF\'\n{long}\nEOF\n;; '
            f'list) printf "{XL_LIST}{rows}\\n";; *) exit 1;; esac')


def run_guests(tmp_path: Path, variables: dict[str, object], *, stack: str = "kvm",
               commands: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_role_check("guests", tmp_path, {**CONTEXT, **variables}, groups=(f"{stack}_hosts",),
                          commands=commands or {"virsh": VIRSH_NO_DOMAIN, "xl": xl()})


def assert_rejected(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    for text in expected:
        assert text in out, f"{text!r} not in output:\n{out[-3000:]}"
    assert FIRST_CHANGING_TASK not in result.stdout
    assert "TASK [guests : Define the domains]" not in result.stdout
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout


SPEC_CASES = {
    "duplicate names": ([GOOD, {**GOOD}], "name 'g1' is already used by guest #1"),
    "name with <": ([{**GOOD, "name": "we<b"}], "name must be a DNS label"),
    "name with a quote": ([{**GOOD, "name": 'we"b'}], "name must be a DNS label"),
    "name with a single quote": ([{**GOOD, "name": "we'b"}], "name must be a DNS label"),
    "name with a space": ([{**GOOD, "name": "a b"}], "name must be a DNS label"),
    "name with ../": ([{**GOOD, "name": "../web"}], "name must be a DNS label"),
    "name ending in a newline": ([{**GOOD, "name": "web1\n"}], "name must be a DNS label"),
    "name all digits (virsh and xl read it as a domain id)": (
        [{**GOOD, "name": "3"}], "name must not be all digits or shaped like a UUID"),
    "name shaped like a UUID": (
        [{**GOOD, "name": "8c4f0d2e-0000-4000-8000-000000000001"}],
        "name must not be all digits or shaped like a UUID"),
    "unknown xen_type": ([{**GOOD, "xen_type": "hvm-pv"}], "xen_type must be one of pv, pvh, hvm"),
    "memory above the host": ([{**GOOD, "memory_mib": 64 * 1024 * 1024}], "exceeds the"),
    "guests together above the host": (
        [{**GOOD, "name": f"g{i}", "memory_mib": HALF_OF_HOST_MIB + 1} for i in range(2)],
        "brings the guests' total to",
    ),
    "more vCPUs than the host": ([{**GOOD, "vcpus": 100000}], "exceeds the"),
}


@pytest.mark.parametrize(("guests", "message"), SPEC_CASES.values(), ids=SPEC_CASES.keys())
def test_bad_spec_is_rejected_before_any_domain(tmp_path: Path, guests: list[dict[str, object]], message: str) -> None:
    assert_rejected(run_guests(tmp_path, {"hvlab_guests": guests}), message)


VARIABLE_CASES = {
    "no SSH key": ({"guests_ssh_public_keys": []}, "guests_ssh_public_keys"),
    "a key with a newline": ({"guests_ssh_public_keys": [KEY + "\nssh-rsa AAAA evil"]}, "guests_ssh_public_keys"),
    "kernel arg with a quote": ({"guests_kernel_args": ['init="/bin/sh"']}, "guests_kernel_args"),
    "guests_dir with ..": ({"guests_dir": "/var/lib/../../etc"}, "guests_dir"),
    # system directories and paths that are not written the one way (see hvlab.hostdirs)
    "guests_dir a system directory (/var/lib)": ({"guests_dir": "/var/lib"},
                                                 "guests_dir /var/lib is a system directory"),
    "guests_dir /home": ({"guests_dir": "/home"}, "guests_dir /home is a system directory"),
    "guests_dir with a trailing slash": ({"guests_dir": "/var/lib/hvlab/guests/"}, "guests_dir"),
    "guests_dir with //": ({"guests_dir": "/var//lib/hvlab"}, "guests_dir"),
    "guests_dir with /./": ({"guests_dir": "/var/lib/./hvlab"}, "guests_dir"),
    "guests_dir ending in a newline": ({"guests_dir": "/var/lib/hvlab\n"}, "guests_dir"),
    "a key ending in a newline": ({"guests_ssh_public_keys": [KEY + "\n"]}, "guests_ssh_public_keys"),
    "root as guest user": ({"guests_user": "root"}, "guests_user"),
    "negative Xen create retries": ({"guests_xen_create_retries": -1}, "guests_xen_create_retries"),
    "negative boot resets": ({"guests_boot_resets": -1}, "guests_boot_resets"),
    "network not a CIDR": ({"guests_network_cidr": "10.77.0.1"}, "guests_network_cidr"),
    "pvh without a kernel to boot": ({"guest_image_kernel": ""}, "xen_type pvh needs direct kernel boot"),
}


@pytest.mark.parametrize(("variables", "named"), VARIABLE_CASES.values(), ids=VARIABLE_CASES.keys())
def test_bad_variable_is_rejected_naming_it(tmp_path: Path, variables: dict[str, object], named: str) -> None:
    assert_rejected(run_guests(tmp_path, {"hvlab_guests": [GOOD], **variables}), named)


def test_a_good_spec_passes_the_checks(tmp_path: Path) -> None:
    """The same context with a good spec gets past every check (proves the cases above fail for their reason)."""
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD]})
    assert "Check the guests fit" in result.stdout
    assert "exceeds" not in result.stdout + result.stderr
    assert "Plan every guest" in result.stdout, result.stdout[-3000:]


def test_a_foreign_libvirt_domain_with_a_guest_name_is_refused_before_any_disk(tmp_path: Path) -> None:
    virsh = ('case "$*" in *"list --all --name"*) echo g1;; '
             '*"dumpxml --inactive g1"*) echo "<domain/>";; *) exit 1;; esac')
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD]}, commands={"virsh": virsh})
    assert_rejected(result, "a libvirt domain named g1 already exists", "was not created by hvlab")


def test_a_foreign_xen_domain_with_a_guest_name_is_refused_before_any_disk(tmp_path: Path) -> None:
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD], "guests_dir": str(tmp_path / "guests")}, stack="xen",
                        commands={"xl": xl("g1")})
    assert_rejected(result, "a Xen domain named g1 already runs", "was not created by hvlab")


OUR_UUID = "5f1e6a7b-1c2d-4e3f-8a9b-0c1d2e3f4a5b"


def hvlab_guest_dir(guests_dir: Path, name: str = "g1", uuid: str = OUR_UUID) -> Path:
    """A guest directory as hvlab leaves it: its mark, and xl_domain's record of the config it created from."""
    directory = guests_dir / name
    directory.mkdir(parents=True)
    (directory / ".hvlab-guest").write_text(json.dumps({"name": name, "stack": "xen"}) + "\n")
    (directory / "xl.cfg.applied").write_text(f'name = "{name}"\nuuid = "{uuid}"\n')
    return directory


def test_hvlab_s_own_xen_domain_may_keep_its_name(tmp_path: Path) -> None:
    guests_dir = tmp_path / "guests"
    hvlab_guest_dir(guests_dir)
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD], "guests_dir": str(guests_dir)}, stack="xen",
                        commands={"xl": xl("g1", uuids={"g1": OUR_UUID})})
    assert "already runs" not in result.stdout + result.stderr
    assert "Plan every guest" in result.stdout, result.stdout[-3000:]


def test_a_xen_domain_that_took_a_recorded_name_after_a_reboot_is_refused(tmp_path: Path) -> None:
    """hvlab's record outlived its domain; the domain now running under that name has another uuid."""
    guests_dir = tmp_path / "guests"
    hvlab_guest_dir(guests_dir)
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD], "guests_dir": str(guests_dir)}, stack="xen",
                        commands={"xl": xl("g1")})
    assert_rejected(result, "a Xen domain named g1 already runs", "was not created by hvlab",
                    f"its uuid {FOREIGN_UUID} is not the uuid {OUR_UUID}")


def test_xen_capacity_is_xl_info_minus_dom0_and_foreign_domains(tmp_path: Path) -> None:
    """4095 MiB in Xen, Dom0 1024 and a foreign 512 MiB domain: 2559 MiB left, 2 CPUs."""
    guest = {**GOOD, "memory_mib": 2560}
    result = run_guests(tmp_path, {"hvlab_guests": [guest], "guests_host_reserve_mib": 0}, stack="xen",
                        commands={"xl": xl("other")})
    assert_rejected(result, "exceeds the")
    assert "2559" in result.stdout + result.stderr
    fits = run_guests(tmp_path, {"hvlab_guests": [{**guest, "memory_mib": 2559}], "guests_host_reserve_mib": 0},
                      stack="xen", commands={"xl": xl("other")})
    assert "exceeds the" not in fits.stdout + fits.stderr
    assert "Plan every guest" in fits.stdout, fits.stdout[-3000:]
    cpus = run_guests(tmp_path, {"hvlab_guests": [{**GOOD, "vcpus": 3}]}, stack="xen", commands={"xl": xl()})
    assert_rejected(cpus, "exceeds the")


# --- guests with nics: the host must have their lab networks, as hvlab_networks describes them --

LAB_NETWORKS = [{"name": "lab", "cidr": "10.80.0.0/24"},
                {"name": "store", "cidr": "10.81.0.0/24", "dhcp_range": ["10.81.0.100", "10.81.0.199"]}]
WITH_NICS = {**GOOD, "nics": [{"network": "lab", "address": "10.80.0.10"}, {"network": "store", "address": "dhcp"}]}
# What kvm_host / xen_host publish in their local fact (ansible_local.hvlab_kvm / hvlab_xen).
HOST_LAB_NETWORKS = {
    "lab": {"cidr": "10.80.0.0/24", "gateway": "10.80.0.1", "bridge": "hvbr-lab", "libvirt_network": "hvlab-lab"},
    "store": {"cidr": "10.81.0.0/24", "gateway": "10.81.0.1", "bridge": "hvbr-store",
              "libvirt_network": "hvlab-store"},
}


def run_with_nics(tmp_path: Path, host_networks: dict[str, object] | None, *, stack: str = "kvm",
                  then: list[dict[str, object]] | None = None) -> subprocess.CompletedProcess[str]:
    """The role with a guest with nics (and one without) on a host whose local fact lists host_networks
    (None: a host whose fact has no lab_networks at all). Extra vars stand in for the fact."""
    fact = {} if host_networks is None else {"lab_networks": host_networks}
    variables = {**CONTEXT, "hvlab_guests": [WITH_NICS, {**GOOD, "name": "g2"}], "hvlab_networks": LAB_NETWORKS,
                 "guests_dir": str(tmp_path / "guests"), "ansible_local": {f"hvlab_{stack}": fact}}
    return run_role_check("guests", tmp_path, variables, groups=(f"{stack}_hosts",),
                          commands={"virsh": VIRSH_NO_DOMAIN, "xl": xl()}, then=then)


def test_a_nic_on_a_network_the_host_lacks_is_refused_before_any_change(tmp_path: Path) -> None:
    result = run_with_nics(tmp_path, {"lab": HOST_LAB_NETWORKS["lab"]})
    assert_rejected(result, "guest g1: NIC eth1 is on network store, which localhost does not have "
                            "(its lab_networks: lab)", "Run kvm_host on localhost with the same hvlab_networks")
    assert "network lab," not in result.stdout, "only the missing network is named"


def test_a_host_without_lab_networks_is_refused_naming_every_network(tmp_path: Path) -> None:
    result = run_with_nics(tmp_path, None, stack="xen")
    assert_rejected(result, "NIC eth0 is on network lab, which localhost does not have (its lab_networks: none)",
                    "NIC eth1 is on network store", "Run xen_host on localhost with the same hvlab_networks")


def test_a_lab_network_the_host_made_with_another_subnet_is_refused(tmp_path: Path) -> None:
    other = {**HOST_LAB_NETWORKS, "lab": {**HOST_LAB_NETWORKS["lab"], "cidr": "10.90.0.0/24",
                                          "gateway": "10.90.0.1"}}
    result = run_with_nics(tmp_path, other, stack="xen")
    assert_rejected(result, "guest g1: NIC eth0 is on network lab, which is 10.80.0.0/24 with gateway 10.80.0.1 in "
                            "hvlab_networks but 10.90.0.0/24 with gateway 10.90.0.1 on localhost", "Run xen_host")


def test_a_guest_with_nics_is_reached_at_its_first_nic(tmp_path: Path) -> None:
    """With the host's networks as the spec says, the role runs on (check mode, Xen stand-ins); the guest
    with nics is reached at its first NIC, the one without keeps guest N's address of the guest network."""
    out = tmp_path / "deployed.json"
    keep = [{"name": "Keep guests_deployed", "check_mode": False,
             "ansible.builtin.copy": {"content": "{{ guests_deployed | to_json }}", "dest": str(out), "mode": "0600"}}]
    result = run_with_nics(tmp_path, HOST_LAB_NETWORKS, stack="xen", then=keep)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "TASK [guests : Write the xl configs]" in result.stdout
    deployed = {entry["inventory_name"]: entry["vars"] for entry in json.loads(out.read_text())}
    first_nic_mac = "02:" + ":".join(re.findall("..", hashlib.sha256(b"g1/0").hexdigest()[:10]))
    assert {key: deployed["localhost-g1"][key] for key in ("ansible_host", "hvlab_guest_gateway", "hvlab_guest_mac")} \
        == {"ansible_host": "10.80.0.10", "hvlab_guest_gateway": "10.80.0.1", "hvlab_guest_mac": first_nic_mac}
    assert deployed["localhost-g2"]["ansible_host"] == "10.77.0.101"
    assert deployed["localhost-g2"]["hvlab_guest_gateway"] == "10.77.0.1"
    assert deployed["localhost-g2"]["hvlab_guest_mac"].startswith("00:16:3e:")


def test_guests_that_all_have_nics_need_no_guest_network_on_the_host(tmp_path: Path) -> None:
    """A host without a guest network of its own (a Xen host without xen_host_bridge_address) can run
    guests that all have nics; a guest without nics there is still refused for want of one."""
    no_guest_network = {"guests_network_cidr": "", "guests_gateway": "", "guests_dir": str(tmp_path / "guests"),
                        "hvlab_networks": LAB_NETWORKS,
                        "ansible_local": {"hvlab_xen": {"lab_networks": HOST_LAB_NETWORKS}}}
    result = run_guests(tmp_path, {**no_guest_network, "hvlab_guests": [WITH_NICS]}, stack="xen")
    assert "no usable guest network" not in result.stdout + result.stderr
    assert "Plan every guest" in result.stdout, result.stdout[-3000:]
    assert_rejected(run_guests(tmp_path, {**no_guest_network, "hvlab_guests": [WITH_NICS, {**GOOD, "name": "g2"}]},
                               stack="xen"), "no usable guest network on localhost")


# --- guest_image ---------------------------------------------------------------------------

FIRST_HOST_TASK = "TASK [guest_image : Create the image directory on the host]"


def run_image(tmp_path: Path, variables: dict[str, object]) -> subprocess.CompletedProcess[str]:
    return run_role_check("guest_image", tmp_path, variables)


def test_checksum_mismatch_fails_before_any_host_is_touched(tmp_path: Path) -> None:
    image = tmp_path / "image.qcow2"
    image.write_bytes(b"not the image you expected")
    wrong = hashlib.sha256(b"something else").hexdigest()
    result = run_image(tmp_path, {"guest_image_source": "file", "guest_image_file": str(image),
                                  "guest_image_sha256": wrong})
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert f"not the expected {wrong}" in out
    assert FIRST_HOST_TASK not in result.stdout


def test_unreachable_url_fails_before_any_host_is_touched(tmp_path: Path) -> None:
    result = run_image(tmp_path, {"guest_image_source": "url", "guest_image_url": "http://127.0.0.1:9/image.qcow2",
                                  "guest_image_sha256": "a" * 64, "guest_image_download_dir": str(tmp_path / "dl")})
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Download the guest image" in result.stdout
    assert "Connection refused" in out or "Request failed" in out
    assert FIRST_HOST_TASK not in result.stdout


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"guest_image_source": "url", "guest_image_url": "http://example.invalid/i.qcow2"}, "guest_image_sha256"),
        ({"guest_image_source": "url", "guest_image_url": "http://x/i", "guest_image_sha256": "abc"}, "64 hex digits"),
        ({"guest_image_source": "torrent"}, "guest_image_source"),
        ({"guest_image_source": "file", "guest_image_file": "/nonexistent.qcow2"}, "does not exist"),
    ],
    ids=["url without sha256", "short sha256", "unknown source", "missing local file"],
)
def test_bad_image_input_is_rejected(tmp_path: Path, variables: dict[str, object], named: str) -> None:
    result = run_image(tmp_path, variables)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert named in out
    assert FIRST_HOST_TASK not in result.stdout


IMAGE_DIR_CASES = {
    "/tmp (its sticky bit would go)": ("/tmp", "is a system directory"),
    "/var/tmp": ("/var/tmp", "is a system directory"),
    "/": ("/", "is a system directory"),
    "/etc": ("/etc", "is a system directory"),
    "/var/lib": ("/var/lib", "is a system directory"),
    "a path with ..": ("/var/lib/hvlab/../../../etc", "guest_image_host_dir"),
    "a path with /./": ("/var/lib/hvlab/./guest-image", "guest_image_host_dir"),
    "a path with //": ("/var/lib//hvlab/guest-image", "guest_image_host_dir"),
    "a trailing slash": ("/var/lib/hvlab/guest-image/", "guest_image_host_dir"),
    "a relative path": ("var/lib/hvlab/guest-image", "guest_image_host_dir"),
}


@pytest.mark.parametrize(("host_dir", "message"), IMAGE_DIR_CASES.values(), ids=IMAGE_DIR_CASES.keys())
def test_image_host_dir_must_be_a_dedicated_directory(tmp_path: Path, host_dir: str, message: str) -> None:
    image = tmp_path / "image.qcow2"
    image.write_bytes(b"an image")
    result = run_image(tmp_path, {"guest_image_source": "file", "guest_image_file": str(image),
                                  "guest_image_host_dir": host_dir})
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "guest_image_host_dir" in out and message in out, out[-3000:]
    assert "TASK [guest_image : Checksum the image" not in result.stdout, "refused before anything else"
    assert FIRST_HOST_TASK not in result.stdout
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout


def test_an_existing_image_directory_is_used_as_it_is(tmp_path: Path) -> None:
    """A directory hvlab did not create keeps its mode and owner: no task sets them."""
    image = tmp_path / "image.qcow2"
    image.write_bytes(b"an image")
    host_dir = tmp_path / "admin-made"
    host_dir.mkdir(mode=0o750)
    host_dir.chmod(0o750)
    result = run_image(tmp_path, {"guest_image_source": "file", "guest_image_file": str(image),
                                  "guest_image_host_dir": str(host_dir)})
    assert "TASK [guest_image : Copy the image files the host lacks or holds with other bytes]" in result.stdout, \
        result.stdout[-3000:]
    # the creating task is skipped (or gone): in check mode a mode to set would show as changed
    create = result.stdout.split("TASK [guest_image : Create the image directory", 1)
    if len(create) == 2:
        assert "changed:" not in create[1].split("TASK [", 1)[0], create[1][:1000]
    assert host_dir.stat().st_mode & 0o7777 == 0o750


def test_a_new_image_directory_is_created_with_its_mode(tmp_path: Path) -> None:
    image = tmp_path / "image.qcow2"
    image.write_bytes(b"an image")
    result = run_image(tmp_path, {"guest_image_source": "file", "guest_image_file": str(image),
                                  "guest_image_host_dir": str(tmp_path / "new" / "images")})
    create = result.stdout.split("TASK [guest_image : Create the image directory", 1)
    assert len(create) == 2, result.stdout[-3000:]
    assert "changed: [localhost]" in create[1].split("TASK [", 1)[0]


def test_hosts_with_different_guest_specs_are_refused_before_any_role(tmp_path: Path) -> None:
    """playbooks/guests.yml: a group_vars file that gives one host other guests stops the play."""
    inventory = tmp_path / "inventory.json"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(json.dumps({"all": {"vars": local, "children": {
        "kvm_hosts": {"hosts": {"kvm-a": {"hvlab_guests": [GOOD]}}},
        "xen_hosts": {"hosts": {"xen-b": {"hvlab_guests": [{**GOOD, "memory_mib": 512}]}}},
    }}}))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "--check", "-i", str(inventory),
         str(ROOT / "playbooks" / "guests.yml")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "hvlab_guests differs between hosts" in out
    assert "TASK [guest_image" not in result.stdout


# --- KVM ownership: hvlab's metadata, parsed -------------------------------------------------

def libvirt_xml(name: str, guest_dir: Path, *, xml_name: str | None = None) -> str:
    """A domain as hvlab defines it: metadata naming the guest and its directory, disks inside it."""
    return (f"<domain type='kvm'><name>{xml_name or name}</name><metadata>"
            f"<hvlab:guest xmlns:hvlab='https://hvlab.example/guest/1' dir='{guest_dir}'>"
            f"<hvlab:spec name='{name}'/><hvlab:disk path='{guest_dir}/disk.qcow2'/></hvlab:guest></metadata>"
            f"<devices><disk type='file' device='disk'><source file='{guest_dir}/disk.qcow2'/></disk></devices>"
            f"</domain>")


def virsh(tmp_path: Path, domains: dict[str, str]) -> str:
    """A stand-in for virsh: `list --all --name` gives the names, `dumpxml --inactive NAME` the XML."""
    cases = ""
    for name, xml_text in domains.items():
        path = tmp_path / f"{name}.xml"
        path.write_text(xml_text)
        cases += f'*"dumpxml --inactive {name}") cat {path};; '
    names = "\\n".join(domains)
    return f'case "$*" in *"list --all --name"*) printf "{names}\\n";; {cases}*) exit 1;; esac'


def test_a_libvirt_domain_that_only_mentions_hvlab_s_namespace_is_refused(tmp_path: Path) -> None:
    guests_dir = tmp_path / "guests"
    foreign = ("<domain type='kvm'><name>g1</name><description>like https://hvlab.example/guest/1</description>"
               "</domain>")
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD], "guests_dir": str(guests_dir)},
                        commands={"virsh": virsh(tmp_path, {"g1": foreign})})
    assert_rejected(result, "a libvirt domain named g1 already exists", "0 hvlab metadata elements")


def test_a_second_lab_s_libvirt_guest_is_refused(tmp_path: Path) -> None:
    guests_dir = tmp_path / "guests"
    other_lab = libvirt_xml("g1", tmp_path / "lab2" / "g1")
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD], "guests_dir": str(guests_dir)},
                        commands={"virsh": virsh(tmp_path, {"g1": other_lab})})
    assert_rejected(result, "a libvirt domain named g1 already exists", "names the directory")


def test_hvlab_s_own_libvirt_domain_may_keep_its_name(tmp_path: Path) -> None:
    guests_dir = tmp_path / "guests"
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD], "guests_dir": str(guests_dir)},
                        commands={"virsh": virsh(tmp_path, {"g1": libvirt_xml("g1", guests_dir / "g1")})})
    assert "already exists" not in result.stdout + result.stderr
    assert "Plan every guest" in result.stdout, result.stdout[-3000:]


def test_teardown_leaves_a_domain_named_by_digits_that_virsh_reads_as_an_id(tmp_path: Path) -> None:
    """A foreign domain named 3, and hvlab's g1 running as id 3: `virsh dumpxml 3` returns g1's XML.

    Only g1 may be stopped and undefined (community.libvirt looks names up as names); this
    controller has no libvirt bindings, so those tasks fail per item, which shows the items.
    """
    guests_dir = tmp_path / "guests"
    ours = libvirt_xml("g1", guests_dir / "g1")
    result = run_guests(tmp_path, {"guests_state": "absent", "guests_dir": str(guests_dir)},
                        commands={"virsh": virsh(tmp_path, {"g1": ours, "3": ours})})
    out = result.stdout
    assert "TASK [guests : Stop hvlab's libvirt domains]" in out, out[-3000:]
    acting = out.split("TASK [guests : Stop hvlab's libvirt domains]", 1)[1]
    assert "(item=g1)" in acting
    assert "(item=3)" not in acting


# --- guest directories: never adopted, removed only when nothing else is in them ------------

def test_an_existing_guest_directory_without_hvlab_s_mark_is_refused(tmp_path: Path) -> None:
    guests_dir = tmp_path / "guests"
    (guests_dir / "g1").mkdir(parents=True)
    (guests_dir / "g1" / "notes.txt").write_text("an admin's\n")
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD], "guests_dir": str(guests_dir)})
    assert_rejected(result, f"{guests_dir}/g1 already exists and hvlab did not make it")


def make_disks(tmp_path: Path, guests_dir: Path, commands: dict[str, str] | None = None,
               **variables: object) -> subprocess.CompletedProcess[str]:
    """The guests role's disks.yml for real (not in check mode) on a KVM host, every path in tmp_path."""
    image = tmp_path / "image.qcow2"
    if not image.exists():
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "1G"], check=True)
    return run_role_check("guests", tmp_path, {
        **CONTEXT, "guest_image_path": str(image), "guests_dir": str(guests_dir), "__guests": [GOOD],
        "__guests_net_cidr": "10.77.0.0/24", "__guests_net_gateway": "10.77.0.1", **variables,
    }, groups=("kvm_hosts",), commands=commands, check=False, tasks_from="disks")


# qemu-img killed while it writes a new disk: its first bytes are out, then it dies (SIGKILL's
# status). Every other qemu-img call goes to the real one.
QEMU_IMG_KILLED_IN_CREATE = f"""
if [ "$1" = create ]; then
    for arg; do dest=$before; before=$arg; done
    printf 'QFI' > "$dest"
    exit 137
fi
exec {shutil.which("qemu-img")} "$@"
"""


def test_a_disk_whose_making_was_killed_is_made_again_by_the_next_run(tmp_path: Path) -> None:
    """`creates` keeps an existing disk (it holds the guest's data): a disk that qemu-img had only
    begun to write when the run was killed must not be left under that name."""
    guests_dir = tmp_path / "guests"
    killed = make_disks(tmp_path, guests_dir, commands={"qemu-img": QEMU_IMG_KILLED_IN_CREATE})
    assert killed.returncode != 0, killed.stdout[-3000:]
    assert not (guests_dir / "g1" / "disk.qcow2").exists()
    (tmp_path / "bin" / "qemu-img").unlink()
    again = make_disks(tmp_path, guests_dir)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(guests_dir / "g1" / "disk.qcow2")],
                                     check=True, capture_output=True, text=True).stdout)
    assert (info["backing-filename"], info["virtual-size"]) == (str(tmp_path / "image.qcow2"), GOOD["disk_gib"] * 2**30)


def test_a_new_guest_directory_is_made_with_its_mark_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    guests_dir = tmp_path / "guests"
    first = make_disks(tmp_path, guests_dir)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    guest = guests_dir / "g1"
    assert json.loads((guest / ".hvlab-guest").read_text()) == {"name": "g1", "stack": "kvm"}
    assert (guest.stat().st_mode & 0o7777, (guest / ".hvlab-guest").stat().st_mode & 0o7777) == (0o755, 0o644)
    assert (guest / "disk.qcow2").is_file()
    assert [p.name for p in guests_dir.iterdir()] == ["g1"]  # no temporary directory left
    second = make_disks(tmp_path, guests_dir)
    assert re.search(r"localhost\s*:.*changed=0", second.stdout), second.stdout[-3000:]


def test_a_guest_directory_never_exists_without_hvlab_s_mark(tmp_path: Path) -> None:
    """A run that stops between making a guest's directory and marking it would leave a directory
    the next run must refuse (it cannot tell it from an admin's). Here the mark cannot be written
    (its name leads into a missing directory), standing in for a run killed at that moment: no
    guest directory, and no temporary one, may be left."""
    guests_dir = tmp_path / "guests"
    result = make_disks(tmp_path, guests_dir, __guests_marker="missing/.hvlab-guest")
    assert result.returncode != 0, result.stdout[-3000:]
    assert list(guests_dir.iterdir()) == []


def test_a_guest_directory_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    guests_dir = tmp_path / "guests"
    guests_dir.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / ".hvlab-guest").write_text("{}\n")
    (guests_dir / "g1").symlink_to(tmp_path / "elsewhere")
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD], "guests_dir": str(guests_dir)})
    assert_rejected(result, f"{guests_dir}/g1 already exists and hvlab did not make it")


def test_hvlab_s_own_guest_directory_is_used_again(tmp_path: Path) -> None:
    guests_dir = tmp_path / "guests"
    hvlab_guest_dir(guests_dir)
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD], "guests_dir": str(guests_dir)})
    assert "hvlab did not make it" not in result.stdout + result.stderr
    assert FIRST_CHANGING_TASK in result.stdout, result.stdout[-3000:]


def test_teardown_removes_only_hvlab_s_files_and_a_directory_only_when_nothing_else_is_left(tmp_path: Path) -> None:
    guests_dir = tmp_path / "guests"
    clean = hvlab_guest_dir(guests_dir, "g1")
    shared = hvlab_guest_dir(guests_dir, "g2")
    for directory in (clean, shared):
        (directory / "seed").mkdir()
        for name in ("disk.qcow2", "seed.iso", "seed/user-data", "console.log"):
            (directory / name).write_text("hvlab's\n")
    (shared / "seed" / "admin-notes.txt").write_text("not hvlab's\n")
    result = run_guests(tmp_path, {"guests_state": "absent", "guests_dir": str(guests_dir)},
                        commands={"virsh": VIRSH_NO_DOMAIN})
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    whole = out.split("TASK [guests : Remove hvlab's guest directories that hold nothing else]", 1)[1]
    whole = whole.split("TASK [", 1)[0]
    assert f"changed: [localhost] => (item={clean})" in whole
    assert f"(item={shared})" not in whole.replace(f"skipping: [localhost] => (item={shared})", "")
    files = out.split("TASK [guests : Remove hvlab's own files from the directories that hold more]", 1)[1]
    files = files.split("TASK [", 1)[0]
    assert f"(item={shared}/disk.qcow2)" in files and f"(item={shared}/seed/user-data)" in files
    assert "admin-notes.txt" not in files
    assert "seed/admin-notes.txt" in out, "the warning names what was left"


def test_teardown_of_named_guests_removes_only_those_and_passes_over_a_name_without_a_directory(
        tmp_path: Path) -> None:
    """Throwaway guests are removed by name before they are made: one may have no directory yet."""
    guests_dir = tmp_path / "guests"
    kept = hvlab_guest_dir(guests_dir, "g1")
    named = hvlab_guest_dir(guests_dir, "g2")
    result = run_guests(tmp_path, {"guests_state": "absent", "guests_dir": str(guests_dir),
                                   "__guests_teardown_names": ["g2", "g9"]},
                        commands={"virsh": VIRSH_NO_DOMAIN})
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    whole = result.stdout.split("TASK [guests : Remove hvlab's guest directories that hold nothing else]", 1)[1]
    whole = whole.split("TASK [", 1)[0]
    assert f"(item={named})" in whole and f"(item={kept})" not in whole, whole
    assert "Skipped" not in out, out[-3000:]


# --- seeds: rebuilt by content, to a temporary file renamed into place ----------------------

def seeds_built(result: subprocess.CompletedProcess[str]) -> str:
    """What the seed build task of a run did (its loop items)."""
    task = "TASK [guests : Build the seed disks to a temporary file (ISO 9660, volume id cidata)]"
    assert task in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout.split(task, 1)[1].split("TASK [", 1)[0]


def test_a_seed_built_from_other_content_is_rebuilt(tmp_path: Path) -> None:
    guests_dir = tmp_path / "guests"
    directory = hvlab_guest_dir(guests_dir)
    (directory / "seed.iso").write_bytes(b"an old seed")
    (directory / "seed.iso.id").write_text("hvlab-g1\n")  # the constant id of before
    result = run_guests(tmp_path, {"hvlab_guests": [GOOD], "guests_dir": str(guests_dir)})
    assert "(item=g1)" in seeds_built(result)
    assert "TASK [guests : Put the new seeds in place (a rename)]" in result.stdout
