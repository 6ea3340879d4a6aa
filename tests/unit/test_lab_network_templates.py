"""The host roles' files for hvlab_networks, rendered with plain Jinja2 (no Ansible run).

kvm_host defines each lab network as an isolated libvirt network (templates/libvirt/network-lab.xml.j2);
xen_host makes a bridge with systemd-networkd files (10-xen-host-lab.{netdev,network}.j2), with
networkd's DHCP server when the network has a dhcp_range. Both report the networks in their local
fact (lab_networks), which the guests role reads. The networks come from hvlab.netspec, as the
roles get them from the hvlab.lab.hvlab_networks_validated filter.

The environment mimics Ansible's template module (trim_blocks, no autoescape) and has hvlab's
filters under their FQCNs and Ansible's own core filters and tests (combine, to_json,
regex_findall, search), the same code Ansible runs.
"""

import ipaddress
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.plugins.filter.core import FilterModule as AnsibleCoreFilters
from ansible.plugins.test.core import TestModule as AnsibleCoreTests
from plugin_loader import load_plugin

from hvlab.netspec import parse_networks

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
KVM_TEMPLATES = ROLES / "kvm_host" / "templates"
XEN_TEMPLATES = ROLES / "xen_host" / "templates"
XEN_VARS = yaml.safe_load((ROLES / "xen_host" / "vars" / "main.yml").read_text())
NETWORKD = "etc/systemd/network"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(KVM_TEMPLATES), str(XEN_TEMPLATES)]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(AnsibleCoreFilters().filters())
    hvlab = load_plugin("plugins/filter/hvlab_spec.py", "hvlab_filter_for_lab_networks").FilterModule().filters()
    env.filters.update({f"hvlab.lab.{name}": function for name, function in hvlab.items()})
    env.tests.update(AnsibleCoreTests().tests())
    return env


ENV = _environment()


def lab_network(name: str = "lab", cidr: str = "10.80.0.0/24", **fields: Any) -> dict[str, Any]:
    """One entry of hvlab_networks as the roles see it: validated and normalised by hvlab.netspec."""
    return parse_networks([{"name": name, "cidr": cidr, **fields}])[0].as_dict()


DHCP = {"dhcp_range": ["10.80.0.100", "10.80.0.199"]}


# --- KVM: an isolated libvirt network ------------------------------------------------------

def render_libvirt(net: dict[str, Any]) -> ET.Element:
    text = ENV.get_template("libvirt/network-lab.xml.j2").render(__kvm_host_lab_network=net)
    return ET.fromstring(text)


def test_libvirt_network_is_isolated_on_its_bridge_with_the_gateway() -> None:
    root = render_libvirt(lab_network())
    assert root.tag == "network"
    assert root.findtext("name") == "hvlab-lab"
    # host-only: no <forward> at all (not nat, not route, not open)
    assert root.find("forward") is None
    assert root.find("bridge").attrib == {"name": "hvbr-lab", "stp": "on", "delay": "0"}
    ips = root.findall("ip")
    assert len(ips) == 1
    assert ips[0].attrib == {"address": "10.80.0.1", "netmask": "255.255.255.0"}
    # no DNS server on the gateway (the Xen host has none there either)
    assert root.find("dns").get("enable") == "no"


def test_libvirt_network_has_dhcp_only_with_a_dhcp_range() -> None:
    assert render_libvirt(lab_network()).find("ip/dhcp") is None
    ranges = render_libvirt(lab_network(**DHCP)).findall("ip/dhcp/range")
    assert [r.attrib for r in ranges] == [{"start": "10.80.0.100", "end": "10.80.0.199"}]


def test_libvirt_network_takes_the_gateway_and_netmask_it_is_given() -> None:
    root = render_libvirt(lab_network("store", "172.20.0.0/16", gateway="172.20.255.254"))
    assert root.findtext("name") == "hvlab-store"
    assert root.find("bridge").get("name") == "hvbr-store"
    assert root.find("ip").attrib == {"address": "172.20.255.254", "netmask": "255.255.0.0"}


def test_libvirt_network_escapes_what_reaches_xml() -> None:
    """The entries are validated first; should one not be, its values still stay attribute values."""
    hostile = {**lab_network(), "bridge": "x'/><forward mode='nat'/><bridge name='y"}
    root = render_libvirt(hostile)
    assert root.find("forward") is None
    assert root.find("bridge").get("name") == hostile["bridge"]


# --- Xen: a bridge and networkd's DHCP server ----------------------------------------------

def render_networkd(kind: str, net: dict[str, Any]) -> str:
    return ENV.get_template(f"{NETWORKD}/10-xen-host-lab.{kind}.j2").render(
        __xen_host_lab_network=net, ansible_managed="Ansible managed",
        __xen_host_bridge_mark=XEN_VARS["__xen_host_bridge_mark"])


def parse_unit(text: str) -> dict[str, dict[str, str]]:
    """A strict reader of a systemd-networkd file: [Section] headers, Key=value lines, comments."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            assert line[1:-1] not in sections, f"section {line} twice"
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"not a Key=value line in a section: {line!r}"
        key, value = line.split("=", 1)
        assert key not in current, f"{key} twice in one section"
        current[key] = value
    return sections


def test_netdev_makes_the_bridge_with_hvlab_s_mark() -> None:
    text = render_networkd("netdev", lab_network())
    assert parse_unit(text) == {"NetDev": {"Name": "hvbr-lab", "Kind": "bridge"}}
    # the line xen_host's refusal of an existing interface looks for (tasks/validate_host.yml)
    assert "# hvlab-owner: xen_host bridge hvbr-lab" in text.splitlines()


def test_network_gives_the_host_the_gateway_without_dhcp() -> None:
    unit = parse_unit(render_networkd("network", lab_network()))
    assert unit["Match"] == {"Name": "hvbr-lab"}
    assert unit["Network"]["Address"] == "10.80.0.1/24"
    assert unit["Network"]["ConfigureWithoutCarrier"] == "yes"
    assert "DHCPServer" not in unit["Network"] and "DHCPServer" not in unit
    assert unit["Link"] == {"RequiredForOnline": "no"}


def test_network_serves_the_dhcp_range_without_router_or_dns() -> None:
    unit = parse_unit(render_networkd("network", lab_network(**DHCP)))
    assert unit["Network"]["DHCPServer"] == "yes"
    assert unit["DHCPServer"] == {"PoolOffset": "100", "PoolSize": "100", "EmitRouter": "no",
                                  "EmitDNS": "no", "EmitNTP": "no"}


POOLS = {
    "/24, .100-.199": ("10.80.0.0/24", ["10.80.0.100", "10.80.0.199"], 100, 100),
    "/16 across octets": ("10.81.0.0/16", ["10.81.1.0", "10.81.2.255"], 256, 512),
    "/28": ("192.168.10.16/28", ["192.168.10.20", "192.168.10.30"], 4, 11),
    "/12": ("172.16.0.0/12", ["172.17.0.10", "172.17.0.20"], 65546, 11),
    "one address": ("10.9.0.0/29", ["10.9.0.6", "10.9.0.6"], 6, 1),
}


@pytest.mark.parametrize(("cidr", "dhcp_range", "offset", "size"), POOLS.values(), ids=POOLS.keys())
def test_pool_offset_and_size_cover_exactly_the_dhcp_range(
    cidr: str, dhcp_range: list[str], offset: int, size: int
) -> None:
    unit = parse_unit(render_networkd("network", lab_network(cidr=cidr, dhcp_range=dhcp_range)))
    assert (int(unit["DHCPServer"]["PoolOffset"]), int(unit["DHCPServer"]["PoolSize"])) == (offset, size)
    network = ipaddress.IPv4Network(cidr)
    pool = [network.network_address + offset + i for i in range(size)]
    assert [str(pool[0]), str(pool[-1])] == dhcp_range


def test_networkd_files_refuse_a_bridge_name_that_could_add_lines() -> None:
    hostile = {**lab_network(), "bridge": "hvbr-lab\nKind=vlan"}
    for kind in ("netdev", "network"):
        with pytest.raises(AnsibleFilterError, match="bridge of hvlab_networks network lab"):
            render_networkd(kind, hostile)


# --- the local facts' lab_networks ---------------------------------------------------------

def run_kvm_fact(networks: list[dict[str, Any]], tmp_path: Path) -> dict[str, Any]:
    """Render hvlab_kvm.fact (a Python script) and run it as Ansible's fact gathering would."""
    text = ENV.get_template("etc/ansible/facts.d/hvlab_kvm.fact.j2").render(
        ansible_managed="Ansible managed", __kvm_host_kvm_module="kvm_intel", __kvm_host_paging_param="ept",
        kvm_host_network_name="hvlab", kvm_host_network_bridge="virbr-hvlab", kvm_host_network_cidr="10.77.0.0/24",
        kvm_host_pool_name="hvlab", kvm_host_pool_path="/var/lib/hvlab/images",
        __kvm_host_firmware={"firmware": "bios"},
        ansible_facts={"distribution": "Debian", "distribution_version": "13"},
        __kvm_host_lab_networks=networks)
    script = tmp_path / "hvlab_kvm.fact"
    script.write_text(text)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout)


def test_kvm_fact_lists_the_lab_networks(tmp_path: Path) -> None:
    fact = run_kvm_fact([lab_network(**DHCP), lab_network("store", "10.81.0.0/24", gateway="10.81.0.254")], tmp_path)
    assert fact["lab_networks"] == {
        "lab": {"cidr": "10.80.0.0/24", "gateway": "10.80.0.1", "bridge": "hvbr-lab", "libvirt_network": "hvlab-lab"},
        "store": {"cidr": "10.81.0.0/24", "gateway": "10.81.0.254", "bridge": "hvbr-store",
                  "libvirt_network": "hvlab-store"},
    }
    assert fact["network"] == "hvlab"


def test_kvm_fact_without_lab_networks(tmp_path: Path) -> None:
    assert run_kvm_fact([], tmp_path)["lab_networks"] == {}


def test_kvm_fact_keeps_any_text_inside_its_json(tmp_path: Path) -> None:
    """The JSON is a Python string literal in the script: quotes, backslashes and newlines stay data."""
    odd = {**lab_network(), "name": 'a"\'\\\n)\nimport os', "bridge": "b\"\"\""}
    fact = run_kvm_fact([odd], tmp_path)
    assert fact["lab_networks"] == {odd["name"]: {"cidr": odd["cidr"], "gateway": odd["gateway"],
                                                  "bridge": odd["bridge"], "libvirt_network": odd["libvirt_network"]}}


def task_var(role: str, tasks_file: str, task_name: str, path: tuple[str, ...]) -> str:
    """The Jinja text of a variable of one of a role's tasks, found by the task's name."""
    tasks = yaml.safe_load((ROLES / role / "tasks" / tasks_file).read_text())
    (task,) = [task for task in tasks if task.get("name") == task_name]
    value: Any = task
    for key in path:
        value = value[key]
    assert isinstance(value, str)
    return value


def test_xen_fact_lists_the_lab_networks() -> None:
    expression = task_var("xen_host", "local_facts.yml", "Write the Xen local facts",
                          ("vars", "__xen_host_fact", "lab_networks"))
    nets = [lab_network(**DHCP), lab_network("store", "10.81.0.0/24")]
    rendered = ENV.from_string(expression).render(__xen_host_lab_networks=nets)
    assert yaml.safe_load(rendered) == {
        "lab": {"cidr": "10.80.0.0/24", "gateway": "10.80.0.1", "bridge": "hvbr-lab"},
        "store": {"cidr": "10.81.0.0/24", "gateway": "10.81.0.1", "bridge": "hvbr-store"},
    }
    assert ENV.from_string(expression).render(__xen_host_lab_networks=[]) == "{}"


# --- kvm_host: a lab network libvirt had already is what hvlab_networks gives --------------

def libvirt_xml(bridge: str = "hvbr-lab", ip: str = "address='10.80.0.1' netmask='255.255.255.0'",
                forward: str = "", dhcp: str = "") -> str:
    """A network as libvirt's XMLDesc writes it (single-quoted attributes)."""
    return (f"<network>\n  <name>hvlab-lab</name>\n  <uuid>0b0b6f1e-2f4e-4a57-8d0a-7c3f4b5e6a7d</uuid>\n{forward}"
            f"  <bridge name='{bridge}' stp='on' delay='0'/>\n  <mac address='52:54:00:12:34:56'/>\n"
            f"  <dns enable='no'/>\n  <ip {ip}>\n{dhcp}  </ip>\n</network>\n")


DHCP_XML = "    <dhcp>\n      <range start='10.80.0.100' end='10.80.0.199'/>\n    </dhcp>\n"


def differences(want: dict[str, Any], xml: str) -> list[str]:
    expression = task_var("kvm_host", "network.yml",
                          "Refuse a lab network that libvirt has with other settings than hvlab_networks gives",
                          ("vars", "__kvm_host_lab_differs"))
    item = {"item": {"item": want}, "get_xml": xml}
    return yaml.safe_load(ENV.from_string(expression).render(item=item))


def test_a_found_network_as_hvlab_networks_gives_it_passes() -> None:
    assert differences(lab_network(), libvirt_xml()) == []
    assert differences(lab_network(**DHCP), libvirt_xml(dhcp=DHCP_XML)) == []
    # defined by someone with a prefix instead of a netmask: the same network
    assert differences(lab_network(), libvirt_xml(ip="address='10.80.0.1' prefix='24'")) == []


FOUND_DIFFERENT = {
    "another bridge": (libvirt_xml(bridge="virbr7"), "is not on bridge hvbr-lab"),
    "another address": (libvirt_xml(ip="address='10.80.0.254' netmask='255.255.255.0'"), "has no address 10.80.0.1/24"),
    "another netmask": (libvirt_xml(ip="address='10.80.0.1' netmask='255.255.0.0'"), "has no address 10.80.0.1/24"),
    "forwarding": (libvirt_xml(forward="  <forward mode='nat'/>\n"), "forwards"),
    "a DHCP range hvlab_networks does not give": (libvirt_xml(dhcp=DHCP_XML), "has a DHCP range"),
}


@pytest.mark.parametrize(("xml", "expected"), FOUND_DIFFERENT.values(), ids=FOUND_DIFFERENT.keys())
def test_a_found_network_that_differs_is_named(xml: str, expected: str) -> None:
    found = differences(lab_network(), xml)
    assert len(found) == 1 and expected in found[0], found


def test_a_found_network_without_the_dhcp_range_is_named() -> None:
    assert differences(lab_network(**DHCP), libvirt_xml()) == ["has no DHCP range 10.80.0.100-10.80.0.199"]
    other = DHCP_XML.replace("10.80.0.199", "10.80.0.150")
    assert differences(lab_network(**DHCP), libvirt_xml(dhcp=other)) == ["has no DHCP range 10.80.0.100-10.80.0.199"]
