"""hvlab.ownership: a libvirt domain is hvlab's only when its parsed metadata says so.

The XML of an owned domain is rendered by the role's own template (as kvm.yml renders it),
so the template and the check cannot drift apart. Every foreign case below carries hvlab's
namespace somewhere: the substring match the roles used before accepted each of them.
"""

import xml.etree.ElementTree as ET

import pytest
from plugin_loader import load_plugin
from test_guest_templates import ENV, HVLAB_NS, spec_entry

from hvlab.ownership import libvirt_owned, libvirt_ownership

LAB = "/var/lib/hvlab/guests"


def hvlab_xml(name: str = "web1", lab: str = LAB) -> str:
    """What kvm.yml defines for guest `name` of the lab kept in `lab`."""
    guest_dir = f"{lab}/{name}"
    return ENV.get_template("libvirt/domain.xml.j2").render(
        guest=spec_entry(name=name), guests_guest_dir=guest_dir, guests_disk_path=f"{guest_dir}/disk.qcow2",
        guests_seed_path=f"{guest_dir}/seed.iso", guests_console_log=f"{guest_dir}/console.log")


def edited(xml_text: str, change: str) -> str:
    root = ET.fromstring(xml_text)
    if change == "virt-clone":  # new name and disk, the metadata copied as it was
        root.find("name").text = "web1-clone"
        root.find("devices/disk/source").set("file", "/var/lib/libvirt/images/web1-clone.qcow2")
    elif change == "disk elsewhere":
        root.find("devices/disk/source").set("file", "/srv/data/db.qcow2")
    elif change == "disk climbing out":
        root.find("devices/disk/source").set("file", f"{LAB}/web1/../../../../srv/db.qcow2")
    elif change == "no dir":
        del root.find(f"metadata/{{{HVLAB_NS}}}guest").attrib["dir"]
    elif change == "spec of another guest":
        root.find(f"metadata/{{{HVLAB_NS}}}guest/{{{HVLAB_NS}}}spec").set("name", "db")
    return ET.tostring(root, encoding="unicode")


def test_hvlab_s_own_guest_is_owned() -> None:
    assert libvirt_ownership(hvlab_xml(), "web1", f"{LAB}/web1") == ""
    assert libvirt_ownership(hvlab_xml(), "web1", f"{LAB}//web1/") == "", "paths are compared normalised"


def test_a_domain_whose_description_mentions_the_marker_is_not_owned() -> None:
    foreign = (f"<domain type='kvm'><name>web1</name><description>cloned from {HVLAB_NS}</description>"
               f"<devices><disk><source file='{LAB}/web1/disk.qcow2'/></disk></devices></domain>")
    assert HVLAB_NS in foreign
    assert "0 hvlab metadata elements" in libvirt_ownership(foreign, "web1", f"{LAB}/web1")


def test_the_xml_of_another_domain_is_not_owned_under_the_name_asked_for() -> None:
    """`virsh dumpxml 3` returns the domain whose id is 3: its <name> is not "3"."""
    assert "is of the domain named 'web1'" in libvirt_ownership(hvlab_xml(), "3", f"{LAB}/3")


def test_a_second_lab_s_guest_is_not_owned() -> None:
    assert "names the directory" in libvirt_ownership(hvlab_xml(lab="/srv/lab2"), "web1", f"{LAB}/web1")


@pytest.mark.parametrize(("change", "reason"), [
    ("virt-clone", "describes guest 'web1'"),
    ("disk elsewhere", "are not inside"),
    ("disk climbing out", "are not inside"),
    ("no dir", "names the directory None"),
    ("spec of another guest", "describes guest 'db'"),
])
def test_altered_copies_of_hvlab_s_xml_are_not_owned(change: str, reason: str) -> None:
    name = "web1-clone" if change == "virt-clone" else "web1"
    assert reason in libvirt_ownership(edited(hvlab_xml(), change), name, f"{LAB}/{name}")


@pytest.mark.parametrize("text", ["", None, "<domain",
                                  '<!DOCTYPE d [<!ENTITY x "y">]><domain><name>web1</name></domain>'])
def test_what_is_not_plain_libvirt_xml_is_not_owned(text: object) -> None:
    assert libvirt_ownership(text, "web1", f"{LAB}/web1") != ""


def test_owned_names_of_a_host() -> None:
    xml_by_name = {"web1": hvlab_xml(), "3": hvlab_xml(), "db": hvlab_xml("db", lab="/srv/lab2"),
                   "web1-clone": edited(hvlab_xml(), "virt-clone"), "admin": "<domain><name>admin</name></domain>"}
    assert libvirt_owned(xml_by_name, LAB + "/") == ["web1"]


def test_the_filters_expose_the_checks() -> None:
    filters = load_plugin("plugins/filter/hvlab_spec.py", "hvlab_filter_for_ownership").FilterModule().filters()
    assert filters["hvlab_libvirt_ownership"](hvlab_xml(), "web1", f"{LAB}/web1") == ""
    assert filters["hvlab_libvirt_owned"]({"web1": hvlab_xml(), "x": ""}, LAB) == ["web1"]
