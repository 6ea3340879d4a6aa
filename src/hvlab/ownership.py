"""Whether a libvirt domain is one hvlab created, read from the domain's XML.

A marker found anywhere in the XML is no proof: a domain whose description quotes hvlab's
namespace, a `virt-clone` of an hvlab guest (which copies the metadata) and the guest of a
second hvlab lab on the same host (another guests_dir) all carry it. So the metadata element
is parsed and must name this very guest, this lab's guest directory, and disks inside that
directory; and the domain's own <name> must be the name asked for, because `virsh dumpxml 3`
returns the domain whose id is 3, not the one named "3".

The playbooks use these checks through the filters in plugins/filter/hvlab_spec.py.
"""

import posixpath
import xml.etree.ElementTree as ET
from collections.abc import Mapping

HVLAB_NS = "https://hvlab.example/guest/1"
_GUEST = f"{{{HVLAB_NS}}}guest"
_SPEC = f"{{{HVLAB_NS}}}spec"
_DISK = f"{{{HVLAB_NS}}}disk"


def _inside(path: str | None, directory: str) -> bool:
    """path names a file inside directory (after normalising, so `..` cannot climb out)."""
    return bool(path) and posixpath.normpath(str(path)).startswith(directory + "/")


def libvirt_ownership(xml_text: object, name: str, guest_dir: str) -> str:
    """"" when xml_text is hvlab's definition of guest `name` kept in `guest_dir`, else why not.

    The reason is one line, for the role's refusal message.
    """
    if not isinstance(xml_text, str) or not xml_text.strip():
        return "no domain XML"
    if "<!DOCTYPE" in xml_text or "<!ENTITY" in xml_text:
        return "its XML declares a DTD, which libvirt never writes"
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        return f"its XML cannot be parsed ({exc})"
    directory = posixpath.normpath(guest_dir)
    found = root.findtext("name")
    if root.tag != "domain" or found != name:
        return f"the XML read for {name!r} is of the domain named {found!r}"
    guests = root.findall(f"metadata/{_GUEST}")
    if len(guests) != 1:
        return f"it has {len(guests)} hvlab metadata elements, not 1"
    guest = guests[0]
    spec = guest.find(_SPEC)
    spec_name = spec.get("name") if spec is not None else None
    if spec_name != name:
        return f"its hvlab metadata describes guest {spec_name!r}"
    lab_dir = guest.get("dir")
    if lab_dir is None or posixpath.normpath(lab_dir) != directory:
        return f"its hvlab metadata names the directory {lab_dir!r}, not {directory!r}"
    disks = [disk.get("path") for disk in guest.findall(_DISK)]
    sources = [source.get("file") for source in root.findall("devices/disk/source")]
    outside = [path for path in disks + sources if not _inside(path, directory)]
    if not disks or outside:
        return f"its disks {outside or disks!r} are not inside {directory!r}"
    return ""


def libvirt_owned(xml_by_name: Mapping[str, object], guests_dir: str) -> list[str]:
    """The names among xml_by_name (domain name -> its XML) that are hvlab guests of guests_dir."""
    base = posixpath.normpath(guests_dir)
    return [name for name, xml_text in xml_by_name.items()
            if not libvirt_ownership(xml_text, name, f"{base}/{name}")]
