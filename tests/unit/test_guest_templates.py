"""roles/guests templates render one spec entry safely, with plain Jinja2 (no Ansible run).

The environment mimics Ansible's template module (trim_blocks, no autoescape) and loads
hvlab's own filters from plugins/filter/hvlab_spec.py, the same code Ansible uses, under
their FQCNs (hvlab.lab.*) as the templates name them. Hostile
input is either refused by the spec model before rendering (names) or, for host variables
such as paths and kernel command lines, XML-escaped (libvirt) or refused (xl).
"""

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from plugin_loader import load_plugin

from hvlab.errors import HvlabError
from hvlab.netspec import network_config, nic_mac, parse_networks
from hvlab.spec import parse_guests

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "roles" / "guests" / "templates"
HVLAB_NS = "https://hvlab.example/guest/1"
HOSTILE = ["we<b", "we'b", 'we"b', "we&b", "we\nb", "we\r\nb", "we\tb", "../web", "x]]>y", "a b"]


def _load_filters() -> dict[str, Any]:
    """The filters under the names the templates use: their FQCNs in the hvlab.lab collection."""
    filters = load_plugin("plugins/filter/hvlab_spec.py", "hvlab_filter_for_templates").FilterModule().filters()
    return {f"hvlab.lab.{name}": function for name, function in filters.items()}


def _bool(value: object) -> bool:
    """Ansible's `bool` filter, for the values templates pass it."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on", "y", "t"}
    return bool(value)


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)
ENV.filters.update(_load_filters())
ENV.filters["bool"] = _bool


def spec_entry(**overrides: Any) -> dict[str, Any]:
    raw = {"name": "web1", "vcpus": 2, "memory_mib": 512, "disk_gib": 4, **overrides}
    return parse_guests([raw])[0].as_dict()


def render_kvm(guest: dict[str, Any], **host: Any) -> ET.Element:
    text = ENV.get_template("libvirt/domain.xml.j2").render(guest=guest, **host)
    return ET.fromstring(text)


def render_xen(guest: dict[str, Any], **host: Any) -> str:
    return ENV.get_template("xen/guest.cfg.j2").render(guest=guest, **host)


_XL_LINE = re.compile(r'^([a-z_]+) = ("[^"\\\n]*"|\d+|\[ (?:"[^"\\\n]*"(?:, )?)* \])$')


def parse_xl(text: str) -> dict[str, object]:
    """A strict reader of what the template writes: every line is `key = value` or a comment."""
    values: dict[str, object] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _XL_LINE.match(line)
        assert match, f"not a well-formed xl line: {line!r}"
        raw = match.group(2)
        if raw.startswith("["):
            values[match.group(1)] = re.findall(r'"([^"]*)"', raw)
        elif raw.startswith('"'):
            values[match.group(1)] = raw[1:-1]
        else:
            values[match.group(1)] = int(raw)
    return values


# --- KVM -----------------------------------------------------------------------------------

def test_kvm_domain_from_good_spec() -> None:
    root = render_kvm(spec_entry(network="lab-net"))
    assert root.tag == "domain" and root.get("type") == "kvm"
    assert root.findtext("name") == "web1"
    assert root.findtext("memory") == "512" and root.find("memory").get("unit") == "MiB"
    assert root.findtext("vcpu") == "2"
    assert root.find("features/acpi") is not None and root.find("features/apic") is not None
    assert root.find("cpu").get("mode") == "host-passthrough"
    disk = root.find("devices/disk[@device='disk']")
    assert disk.find("driver").attrib == {"name": "qemu", "type": "qcow2", "cache": "none"}
    assert disk.find("source").get("file") == "/var/lib/hvlab/images/web1.qcow2"
    assert disk.find("target").attrib == {"dev": "vda", "bus": "virtio"}
    iface = root.find("devices/interface")
    assert iface.get("type") == "network" and iface.find("source").get("network") == "lab-net"
    assert iface.find("model").get("type") == "virtio"
    assert root.find("devices/serial").get("type") == "pty"
    assert root.find("devices/console/target").get("type") == "serial"
    assert root.find("devices/graphics") is None
    assert root.find("devices/video/model").get("type") == "none"
    assert root.find("os/boot").get("dev") == "hd"
    marker = root.find(f"metadata/{{{HVLAB_NS}}}guest")
    assert marker is not None
    assert marker.find(f"{{{HVLAB_NS}}}spec").get("memory_mib") == "512"
    assert marker.find(f"{{{HVLAB_NS}}}disk").get("cache") == "none"
    assert root.find("uuid") is None and root.find("cputune") is None


def test_kvm_host_variables() -> None:
    root = render_kvm(
        spec_entry(cpu_pinning=[1, 0]),
        guests_disk_cache="writeback",
        guests_libvirt_network="default",
        guests_uuid="8c4f0d2e-0000-4000-8000-000000000001",
        guests_vnc=True,
        guests_kernel="/boot/vmlinuz",
        guests_ramdisk="/boot/initrd.img",
        guests_cmdline="console=ttyS0 root=/dev/vda1",
        guests_seed_path="/var/lib/hvlab/seed/web1.iso",
        guests_libvirt_domain_type="qemu",
    )
    assert root.get("type") == "qemu"
    assert root.findtext("uuid") == "8c4f0d2e-0000-4000-8000-000000000001"
    assert [(pin.get("vcpu"), pin.get("cpuset")) for pin in root.iter("vcpupin")] == [("0", "1"), ("1", "0")]
    assert root.find("devices/disk/driver").get("cache") == "writeback"
    assert root.find("devices/interface/source").get("network") == "default"
    graphics = root.find("devices/graphics")
    assert graphics.get("type") == "vnc" and graphics.get("listen") == "127.0.0.1"
    assert root.findtext("os/kernel") == "/boot/vmlinuz"
    assert root.findtext("os/cmdline") == "console=ttyS0 root=/dev/vda1"
    assert root.find("os/boot") is None
    seed = next(disk for disk in root.iter("disk") if disk.find("target").get("dev") == "vdb")
    assert seed.find("source").get("file") == "/var/lib/hvlab/seed/web1.iso"
    assert seed.find("target").get("bus") == "virtio"
    assert seed.find("readonly") is not None


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_never_reach_a_template(hostile: str) -> None:
    with pytest.raises(HvlabError, match="name must be a DNS label"):
        spec_entry(name=hostile)


@pytest.mark.parametrize("hostile", [*HOSTILE, "</source><disk device='evil'>", 'a"/><x y="', "&amp;"])
def test_kvm_hostile_host_values_are_escaped_literally(hostile: str) -> None:
    path = f"/srv/{hostile}.qcow2"
    root = render_kvm(spec_entry(), guests_disk_path=path, guests_cmdline=hostile, guests_kernel="/k",
                      guests_disk_cache=hostile, guests_libvirt_network=hostile, guests_console_log=path)
    assert root.find("devices/disk/source").get("file") == path
    assert root.find("devices/serial/log").get("file") == path
    assert root.findtext("os/cmdline") == hostile
    assert root.find("devices/disk/driver").get("cache") == hostile
    assert root.find("devices/interface/source").get("network") == hostile
    assert len(root.findall("devices/disk")) == 1
    assert root.find(".//x") is None


def test_kvm_refuses_characters_xml_cannot_hold() -> None:
    with pytest.raises(AnsibleFilterError, match="cannot go into XML"):
        render_kvm(spec_entry(), guests_disk_path="/srv/a\x1b.qcow2")


def test_kvm_unvalidated_name_is_still_escaped() -> None:
    """Defence in depth: even a guest that skipped the spec model cannot inject XML."""
    guest = {**spec_entry(), "name": "a</name><evil/>&"}
    root = render_kvm(guest)
    assert root.findtext("name") == "a</name><evil/>&"
    assert root.find("evil") is None


# --- Xen -----------------------------------------------------------------------------------

def test_xen_config_from_good_spec() -> None:
    values = parse_xl(render_xen(spec_entry()))
    assert values == {
        "name": "web1",
        "type": "pvh",
        "memory": 512,
        "maxmem": 512,
        "vcpus": 2,
        "bootloader": "pygrub",
        "disk": [
            "format=qcow2, vdev=xvda, access=rw, backendtype=qdisk, "
            "target=/var/lib/hvlab/images/web1.qcow2"
        ],
        "vif": ["bridge=xenbr0"],
        "on_poweroff": "destroy",
        "on_reboot": "restart",
        "on_crash": "destroy",
    }


@pytest.mark.parametrize("xen_type", ["pv", "pvh", "hvm"])
def test_xen_types_and_emulated_host(xen_type: str) -> None:
    values = parse_xl(render_xen(spec_entry(xen_type=xen_type, cpu_pinning=[0, 1]), hvlab_host_emulated=True))
    assert values["type"] == xen_type
    assert values["cpus"] == ["0", "1"]
    assert values.get("cpuid") == (None if xen_type == "pv" else "host,rdtscp=0")
    assert "hap" not in values, "shadow paging made a PVH boot under TCG too slow to finish"
    if xen_type == "hvm":
        assert values["boot"] == "c" and values["vnc"] == 0 and values["serial"] == "pty"
        assert "bootloader" not in values
    else:
        assert values["bootloader"] == "pygrub" and "vnc" not in values
    on_metal = parse_xl(render_xen(spec_entry(xen_type=xen_type), hvlab_host_emulated=False))
    assert "cpuid" not in on_metal and "hap" not in on_metal


def test_xen_direct_kernel_boot_and_seed() -> None:
    values = parse_xl(render_xen(
        spec_entry(xen_type="pv"),
        guests_kernel="/boot/vmlinuz",
        guests_ramdisk="/boot/initrd.img",
        guests_cmdline="console=hvc0 root=/dev/xvda1",
        guests_seed_path="/var/lib/hvlab/seed/web1.iso",
        guests_xen_bridge="br-lab",
        guests_disk_path="/data/web1.qcow2",
    ))
    assert values["kernel"] == "/boot/vmlinuz" and values["ramdisk"] == "/boot/initrd.img"
    assert values["cmdline"] == "console=hvc0 root=/dev/xvda1"
    assert "bootloader" not in values
    assert values["disk"] == [
        "format=qcow2, vdev=xvda, access=rw, backendtype=qdisk, target=/data/web1.qcow2",
        "format=raw, vdev=xvdb, access=rw, backendtype=qdisk, target=/var/lib/hvlab/seed/web1.iso",
    ]
    assert values["vif"] == ["bridge=br-lab"]




def test_kvm_cpu_quota_caps_each_vcpu_and_keeps_pinning() -> None:
    """The overcommit claim's throwaway guests on an emulated host: each vCPU at most a share of one CPU."""
    capped = render_kvm({**spec_entry(cpu_pinning=[1, 0]), "cpu_quota_percent": 25})
    tune = capped.find("cputune")
    assert tune is not None
    assert (tune.findtext("period"), tune.findtext("quota")) == ("100000", "25000")
    assert [pin.get("cpuset") for pin in tune.findall("vcpupin")] == ["1", "0"]
    assert render_kvm(spec_entry()).find("cputune") is None
    assert render_kvm({**spec_entry(), "cpu_quota_percent": 0}).find("cputune") is None
    # A spec without pinning (null, as the spec model gives it) is capped too.
    assert spec_entry()["cpu_pinning"] is None
    unpinned = render_kvm({**spec_entry(), "cpu_quota_percent": 25}).find("cputune")
    assert unpinned is not None and unpinned.findtext("quota") == "25000" and unpinned.findall("vcpupin") == []

def test_kvm_emulated_devices_leave_no_virtio_device_for_a_pv_driver() -> None:
    """The pv_fairness claim's KVM copy: the disk on SATA, the seed a SATA CD-ROM, an e1000e NIC."""
    root = render_kvm({**spec_entry(), "emulated_devices": True}, guests_seed_path="/g/seed.iso")
    disks = root.findall("devices/disk")
    assert [(d.get("device"), d.find("target").attrib) for d in disks] == [
        ("disk", {"dev": "sda", "bus": "sata"}), ("cdrom", {"dev": "sdb", "bus": "sata"})]
    assert disks[1].find("readonly") is not None
    assert root.find("devices/interface/model").get("type") == "e1000e"
    # The lab's own guests keep virtio.
    lab = render_kvm(spec_entry(), guests_seed_path="/g/seed.iso")
    assert [d.find("target").get("bus") for d in lab.findall("devices/disk")] == ["virtio", "virtio"]
    assert lab.find("devices/interface/model").get("type") == "virtio"


def test_xen_emulated_devices_turn_off_the_platform_device_and_pv_disks() -> None:
    """The pv_fairness claim's HVM copy: IDE disks, an e1000 NIC, no platform device for PV drivers."""
    host = {"guests_seed_path": "/g/seed.iso", "guests_disk_path": "/g/disk.qcow2", "guests_mac": "52:54:00:00:00:07",
            "guests_serial_log": "/g/console.log"}
    values = parse_xl(render_xen({**spec_entry(xen_type="hvm"), "emulated_devices": True}, **host))
    assert values["xen_platform_pci"] == 0
    # No one attaches to the copy: its serial console is a file its SSH wait can read.
    assert values["serial"] == "file:/g/console.log"
    assert values["disk"] == ["format=qcow2, vdev=hda, access=rw, backendtype=qdisk, target=/g/disk.qcow2",
                              "format=raw, vdev=hdb, access=rw, backendtype=qdisk, target=/g/seed.iso"]
    assert values["vif"] == ["mac=52:54:00:00:00:07, model=e1000, type=ioemu, bridge=xenbr0"]
    # The lab's own HVM guests keep the platform device, and a PV guest cannot be given emulated devices.
    for guest in (spec_entry(xen_type="hvm"), {**spec_entry(xen_type="pv"), "emulated_devices": True}):
        values = parse_xl(render_xen(guest, **host))
        assert "xen_platform_pci" not in values
        assert [d.split(", ")[1] for d in values["disk"]] == ["vdev=xvda", "vdev=xvdb"]
        assert values["vif"] == ["mac=52:54:00:00:00:07, bridge=xenbr0"]
        assert values.get("serial", "pty") == "pty"

@pytest.mark.parametrize("hostile", ['a"b', "a'b", "a\nb", "a\\b", "a\rb"])
@pytest.mark.parametrize("variable", ["guests_disk_path", "guests_cmdline", "guests_seed_path", "guests_ramdisk",
                                      "guests_serial_log"])
def test_xen_refuses_quotes_and_newlines_from_input(variable: str, hostile: str) -> None:
    host = {"guests_kernel": "/boot/vmlinuz", variable: hostile}
    emulated_copy = {**spec_entry(xen_type="hvm"), "emulated_devices": True}
    guest = emulated_copy if variable == "guests_serial_log" else spec_entry()
    with pytest.raises(AnsibleFilterError, match=variable):
        render_xen(guest, **host)


@pytest.mark.parametrize("bridge", ["xenbr0,script=/tmp/evil", "br 0", 'br"0', "br\n0"])
def test_xen_refuses_bridge_that_would_inject_vif_keys(bridge: str) -> None:
    with pytest.raises(AnsibleFilterError, match="guests_xen_bridge must match"):
        render_xen(spec_entry(), guests_xen_bridge=bridge)


@pytest.mark.parametrize("hostile", ["a\nb", 'a"b', "a'b"])
def test_xen_unvalidated_name_is_still_refused(hostile: str) -> None:
    with pytest.raises(AnsibleFilterError, match="guest name"):
        render_xen({**spec_entry(), "name": hostile}, guests_disk_path="/d.qcow2")


@pytest.mark.parametrize("hostile", ["../web", "we&b", "we<b", "a b"])
def test_xen_harmless_characters_stay_literal_inside_quotes(hostile: str) -> None:
    values = parse_xl(render_xen(spec_entry(), guests_cmdline=hostile, guests_kernel="/k"))
    assert values["cmdline"] == hostile


def test_mac_reaches_both_stacks_and_hostile_macs_are_refused() -> None:
    kvm = render_kvm(spec_entry(), guests_mac="52:54:00:ab:cd:ef")
    assert kvm.find("devices/interface/mac").get("address") == "52:54:00:ab:cd:ef"
    assert parse_xl(render_xen(spec_entry(), guests_mac="00:16:3e:ab:cd:ef"))["vif"] == [
        "mac=00:16:3e:ab:cd:ef, bridge=xenbr0"
    ]
    for hostile in ["00:16:3e:ab:cd:ef, script=/tmp/evil", "52:54:00:ab:cd:ef'/><evil", "AA:BB:CC:DD:EE:FF"]:
        with pytest.raises(AnsibleFilterError, match="guests_mac must be six"):
            render_xen(spec_entry(), guests_mac=hostile)
        with pytest.raises(AnsibleFilterError, match="guests_mac must be six"):
            render_kvm(spec_entry(), guests_mac=hostile)


def test_xen_uuid_reaches_the_config_and_hostile_uuids_are_refused() -> None:
    """xl_domain proves a running domain is hvlab's by the uuid its config set."""
    uuid = "5f1e6a7b-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
    assert parse_xl(render_xen(spec_entry(), guests_uuid=uuid))["uuid"] == uuid
    for hostile in ['5f1e6a7b-1c2d-4e3f-8a9b-0c1d2e3f4a5b"\nbootloader="/tmp/x', "not-a-uuid", uuid.upper()]:
        with pytest.raises(AnsibleFilterError, match="guests_uuid must be a lower-case UUID"):
            render_xen(spec_entry(), guests_uuid=hostile)


def test_meta_data_carries_the_instance_id_derived_from_the_seed() -> None:
    """A constant instance-id made cloud-init ignore a rebuilt seed's new keys and addresses."""
    import yaml

    env = ENV.overlay()
    env.filters["to_json"] = json.dumps  # Ansible's filter, for the one template that uses it here
    text = env.get_template("nocloud/meta-data.j2").render(guest=spec_entry(), guests_instance_id="hvlab-web1-0123")
    assert yaml.safe_load(text) == {"instance-id": "hvlab-web1-0123", "local-hostname": "web1"}


# --- guests with nics (hvlab.netspec): one device per NIC, the same network-config everywhere -----

LAB_NETWORKS_RAW = [
    {"name": "lab", "cidr": "10.80.0.0/24"},
    {"name": "store", "cidr": "10.81.0.0/24", "dhcp_range": ["10.81.0.100", "10.81.0.199"]},
]
TWO_NICS = [{"network": "lab", "address": "10.80.0.10"}, {"network": "store", "address": "dhcp"}]


def lab_networks() -> list[dict[str, Any]]:
    """The validated hvlab_networks, as validate.yml gives them to the templates."""
    return [net.as_dict() for net in parse_networks(LAB_NETWORKS_RAW)]


def nics_entry(**overrides: Any) -> dict[str, Any]:
    raw = {"name": "web1", "vcpus": 2, "memory_mib": 512, "disk_gib": 4, "nics": TWO_NICS, **overrides}
    return parse_guests([raw], parse_networks(LAB_NETWORKS_RAW))[0].as_dict()


def test_kvm_guest_with_nics_gets_one_interface_per_nic_on_its_libvirt_network() -> None:
    guest = nics_entry()
    macs = [nic_mac("web1", 0), nic_mac("web1", 1)]
    assert [nic["mac"] for nic in guest["nics"]] == macs
    # guests_mac and guests_libvirt_network are the no-nics NIC's: not used for a guest with nics.
    root = render_kvm(guest, guests_lab_networks=lab_networks(), guests_mac="52:54:00:ab:cd:ef",
                      guests_libvirt_network="default")
    interfaces = root.findall("devices/interface")
    assert [(i.get("type"), i.find("mac").get("address"), i.find("source").get("network"),
             i.find("model").get("type")) for i in interfaces] == [
        ("network", macs[0], "hvlab-lab", "virtio"), ("network", macs[1], "hvlab-store", "virtio")]
    emulated = render_kvm({**guest, "emulated_devices": True}, guests_lab_networks=lab_networks())
    assert [i.find("model").get("type") for i in emulated.findall("devices/interface")] == ["e1000e", "e1000e"]


def test_xen_guest_with_nics_gets_one_vif_per_nic_on_its_bridge() -> None:
    guest = nics_entry()
    macs = [nic_mac("web1", 0), nic_mac("web1", 1)]
    values = parse_xl(render_xen(guest, guests_lab_networks=lab_networks(), guests_mac="00:16:3e:ab:cd:ef",
                                 guests_xen_bridge="xenbr0"))
    assert values["vif"] == [f"mac={macs[0]}, bridge=hvbr-lab", f"mac={macs[1]}, bridge=hvbr-store"]
    emulated = parse_xl(render_xen({**guest, "xen_type": "hvm", "emulated_devices": True},
                                   guests_lab_networks=lab_networks()))
    assert emulated["vif"] == [f"mac={macs[0]}, model=e1000, type=ioemu, bridge=hvbr-lab",
                               f"mac={macs[1]}, model=e1000, type=ioemu, bridge=hvbr-store"]


def test_a_nic_whose_network_the_templates_were_not_given_is_refused() -> None:
    """Defence in depth: validate.yml gives the templates every network a NIC names."""
    only_lab = [net for net in lab_networks() if net["name"] == "lab"]
    with pytest.raises(AnsibleFilterError, match="lab network store"):
        render_kvm(nics_entry(), guests_lab_networks=only_lab)
    with pytest.raises(AnsibleFilterError, match="lab network store"):
        render_xen(nics_entry(), guests_lab_networks=only_lab)


@pytest.mark.parametrize("field", ["mac", "network"])
def test_a_hostile_nic_value_cannot_inject_devices(field: str) -> None:
    """Unvalidated NICs (a guest that skipped the spec model) are refused, not written."""
    hostile = "02:00:00:00:00:01, script=/tmp/evil'/><evil" if field == "mac" else "lab'/><evil"
    networks = [*lab_networks(), {**lab_networks()[0], "name": hostile, "bridge": hostile,
                                  "libvirt_network": hostile}]
    guest = nics_entry()
    guest["nics"] = [{**guest["nics"][0], field: hostile}]
    with pytest.raises(AnsibleFilterError):
        render_kvm(guest, guests_lab_networks=networks)
    with pytest.raises(AnsibleFilterError):
        render_xen(guest, guests_lab_networks=networks)


def test_guests_without_nics_keep_their_one_device_when_lab_networks_exist() -> None:
    """The existing expectations, with the lab networks given: nothing changes for them."""
    guest = spec_entry()
    assert guest["nics"] is None
    root = render_kvm(guest, guests_lab_networks=lab_networks(), guests_mac="52:54:00:ab:cd:ef",
                      guests_libvirt_network="default")
    assert [(i.find("mac").get("address"), i.find("source").get("network"), i.find("model").get("type"))
            for i in root.findall("devices/interface")] == [("52:54:00:ab:cd:ef", "default", "virtio")]
    assert render_xen(guest, guests_lab_networks=lab_networks(), guests_mac="00:16:3e:ab:cd:ef") == render_xen(
        guest, guests_mac="00:16:3e:ab:cd:ef")
    assert parse_xl(render_xen(guest, guests_lab_networks=lab_networks()))["vif"] == ["bridge=xenbr0"]
    # A throwaway copy drops the key altogether (tasks/throwaway.yml): the same device.
    copy = {key: value for key, value in guest.items() if key != "nics"}
    assert ET.tostring(render_kvm(copy, guests_mac="52:54:00:ab:cd:ef")) == ET.tostring(
        render_kvm(guest, guests_mac="52:54:00:ab:cd:ef"))
    assert render_xen(copy) == render_xen(guest)


# network-config.j2 as seeds.yml renders it: `guest` is the guest's plan entry (plan.j2), whose
# mac, uuid and dir are this host's; a guest with nics takes address, prefix, gateway and mac
# from its first NIC.
NETWORK_CONFIG_ENV = ENV.overlay()
NETWORK_CONFIG_ENV.filters["to_json"] = json.dumps  # Ansible's filter, as json.dumps writes these values

# Today's network-config of a guest without nics, byte for byte (the seed's instance-id hashes it:
# a byte more would rebuild every deployed guest's seed).
OLD_NETWORK_CONFIG = """version: 2
ethernets:
  eth0:
    match:
      macaddress: "52:54:00:ab:cd:ef"
    set-name: eth0
    addresses: ["10.77.0.100/24"]
    # routes, not gateway4: cloud-init 25 (Debian 13) reports gateway4 as deprecated, which
    # makes `cloud-init status` end "degraded done" with exit code 2.
    routes:
      - to: 0.0.0.0/0
        via: "10.77.0.1"
    nameservers:
      addresses: ["10.77.0.1"]
"""


def render_network_config(guest: dict[str, Any], stack: str, host: str) -> str:
    return NETWORK_CONFIG_ENV.get_template("nocloud/network-config.j2").render(
        guest=guest, __guests_lab_networks=lab_networks(), __guests_stack=stack, inventory_hostname=host)


def plan_entry(guest: dict[str, Any], host: str, **reach: Any) -> dict[str, Any]:
    return {**guest, "uuid": f"uuid-of-{host}", "dir": f"/var/lib/hvlab/guests/{guest['name']}", **reach}


def test_network_config_of_a_guest_with_nics_is_the_spec_s_and_the_same_bytes_on_both_stacks() -> None:
    guest = nics_entry()
    first = guest["nics"][0]
    reach = {"address": first["address"], "prefix": 24, "gateway": "10.80.0.1", "mac": first["mac"]}
    on_kvm = render_network_config(plan_entry(guest, "kvm-a", **reach), "kvm", "kvm-a")
    on_xen = render_network_config(plan_entry(guest, "xen-b", **reach), "xen", "xen-b")
    assert on_kvm == network_config(guest["nics"], lab_networks())
    assert on_kvm.encode() == on_xen.encode()
    # Even a plan entry with this host's no-nics address and MAC does not reach it.
    stray = render_network_config(plan_entry(guest, "xen-b", address="10.77.0.100", prefix=24,
                                              gateway="10.77.0.1", mac="00:16:3e:ab:cd:ef"), "xen", "xen-b")
    assert stray == on_kvm
    parsed = yaml.safe_load(on_kvm)
    assert parsed["ethernets"]["eth0"]["addresses"] == ["10.80.0.10/24"]
    assert parsed["ethernets"]["eth1"] == {"match": {"macaddress": guest["nics"][1]["mac"]}, "set-name": "eth1",
                                           "dhcp4": True}


def test_network_config_of_a_guest_without_nics_is_today_s_text() -> None:
    reach = {"address": "10.77.0.100", "prefix": 24, "gateway": "10.77.0.1", "mac": "52:54:00:ab:cd:ef"}
    guest = spec_entry()
    assert render_network_config(plan_entry(guest, "kvm-a", **reach), "kvm", "kvm-a") == OLD_NETWORK_CONFIG
    copy = {key: value for key, value in plan_entry(guest, "kvm-a", **reach).items() if key != "nics"}
    assert render_network_config(copy, "kvm", "kvm-a") == OLD_NETWORK_CONFIG
