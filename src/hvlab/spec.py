"""The guest spec: one list of guests that every host (KVM and Xen) deploys identically.

The spec is checked once, here, and used by the CLI and (through the Ansible filter
`hvlab_guests_validated` in plugins/filter/hvlab_spec.py) by the playbooks, so the two
hypervisors can never disagree about what a valid guest is. Names are restricted to DNS
labels because they become libvirt domain names, Xen domain names, file names of disks and
configs, and hostnames: a name that is safe in all four needs no escaping in any of them.
Names that are all digits or shaped like a UUID are refused too: xl and virsh read those as
a domain id or UUID, so a guest so named would address another domain.

Every check runs before the first error is raised, so one run lists ALL problems of a
spec, each naming the guest and the field; the message stays on one line (values are
shown with repr, so a newline in a value cannot split it).
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hvlab.errors import HvlabError
from hvlab.netspec import LabNetwork, Nic, check_unique_addresses, parse_nics

# A DNS label (RFC 1123): safe as a libvirt/Xen domain name, a file name and a hostname.
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
# Names that xl or virsh take for a domain id (all digits) or a UUID (32 hex digits, libvirt
# also reads them with dashes between digit pairs) where they take a name: a guest so named
# would address another domain. A copy lives in plugins/modules/xl_domain.py (a test keeps
# them equal).
ID_LIKE_PATTERN = r"^([0-9]+|([0-9a-f]-*){31}[0-9a-f])$"
# What libvirt accepts for network names without quoting trouble (as in roles/kvm_host).
NETWORK_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
XEN_TYPES = ("pv", "pvh", "hvm")
DEFAULT_XEN_TYPE = "pvh"
MIN_MEMORY_MIB = 128

_NAME_RE = re.compile(NAME_PATTERN)
_ID_LIKE_RE = re.compile(ID_LIKE_PATTERN)
_NETWORK_RE = re.compile(NETWORK_PATTERN)
_DIGITS_RE = re.compile(r"^[0-9]+$")
_FIELDS = ("name", "vcpus", "memory_mib", "disk_gib", "xen_type", "cpu_pinning", "network", "nics")
# Characters that would end or break a double-quoted xl config string, or split a line.
_XL_FORBIDDEN_RE = re.compile(r"[\"'\\\x00-\x1f\x7f]")
# Characters XML 1.0 cannot carry at all, not even as character references.
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
                "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}


@dataclass(frozen=True)
class GuestSpec:
    """One guest, identical on every host.

    cpu_pinning, when set, pins vCPU i to host CPU cpu_pinning[i] (libvirt <vcpupin>,
    xl `cpus = ["a", "b"]`): a list per vCPU rather than a cpuset string, because only a
    one-to-one pinning is the same thing on both hypervisors' schedulers.
    network is the libvirt network on KVM hosts (None: the host's default network) of a guest
    without nics. nics, when set, are the guest's NICs on the lab's networks (hvlab.netspec),
    the same on both stacks; then hvlab reaches the guest at the first NIC's address.
    """

    name: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    xen_type: str = DEFAULT_XEN_TYPE
    cpu_pinning: tuple[int, ...] | None = None
    network: str | None = None
    nics: tuple[Nic, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The normalised entry (defaults filled) that playbooks and templates use."""
        return {
            "name": self.name,
            "vcpus": self.vcpus,
            "memory_mib": self.memory_mib,
            "disk_gib": self.disk_gib,
            "xen_type": self.xen_type,
            "cpu_pinning": list(self.cpu_pinning) if self.cpu_pinning is not None else None,
            "network": self.network,
            "nics": [nic.as_dict() for nic in self.nics] if self.nics is not None else None,
        }


def _int_field(value: object, field: str, minimum: int, problems: list[str], where: str) -> int | None:
    """An integer >= minimum; decimal strings count, because `-e key=value` gives strings."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS_RE.fullmatch(value):
        number = int(value)
    if number is None or number < minimum:
        problems.append(f"{where}: {field} must be an integer >= {minimum}, got {value!r}")
        return None
    return number


def valid_name(name: object) -> bool:
    """A DNS label that no tool reads as a domain id or UUID: safe to address a domain by."""
    return isinstance(name, str) and bool(_NAME_RE.fullmatch(name)) and not _ID_LIKE_RE.fullmatch(name)


def _label(index: int, entry: Mapping[str, Any], duplicated: set[str]) -> str:
    """How messages name a guest: by name when that is valid and unique, else by position."""
    name = entry.get("name")
    if isinstance(name, str) and valid_name(name):
        return f"guest #{index + 1} ({name})" if name in duplicated else f"guest {name}"
    return f"guest #{index + 1}"


def _parse_entry(
    index: int,
    entry: object,
    duplicated: set[str],
    networks: Mapping[str, LabNetwork],
    problems: list[str],
) -> GuestSpec | None:
    if not isinstance(entry, Mapping):
        problems.append(f"guest #{index + 1}: must be a mapping, got {entry!r}")
        return None
    where = _label(index, entry, duplicated)
    before = len(problems)

    unknown = sorted(str(key) for key in entry if key not in _FIELDS)
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(_FIELDS)})")

    name = entry.get("name")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        problems.append(
            f"{where}: name must be a DNS label (lower-case letters, digits and '-', 1-63 characters, "
            f"no leading or trailing '-'), got {name!r}"
        )
    elif _ID_LIKE_RE.fullmatch(name):
        problems.append(
            f"{where}: name must not be all digits or shaped like a UUID (xl and virsh would read it as "
            f"another domain's id or UUID), got {name!r}"
        )

    for field in ("vcpus", "memory_mib", "disk_gib"):
        if field not in entry:
            problems.append(f"{where}: {field} is required")
    vcpus = _int_field(entry["vcpus"], "vcpus", 1, problems, where) if "vcpus" in entry else None
    memory = (
        _int_field(entry["memory_mib"], "memory_mib", MIN_MEMORY_MIB, problems, where)
        if "memory_mib" in entry
        else None
    )
    disk = _int_field(entry["disk_gib"], "disk_gib", 1, problems, where) if "disk_gib" in entry else None

    xen_type = entry.get("xen_type")
    if xen_type is None:
        xen_type = DEFAULT_XEN_TYPE
    elif xen_type not in XEN_TYPES:
        problems.append(f"{where}: xen_type must be one of {', '.join(XEN_TYPES)}, got {xen_type!r}")

    pinning: tuple[int, ...] | None = None
    raw_pinning = entry.get("cpu_pinning")
    if raw_pinning is not None:
        if isinstance(raw_pinning, str | bytes | Mapping) or not isinstance(raw_pinning, Iterable):
            problems.append(
                f"{where}: cpu_pinning must be a list of host CPU numbers (one per vCPU), got {raw_pinning!r}"
            )
        else:
            items = list(raw_pinning)
            cpus = [_int_field(item, f"cpu_pinning[{i}]", 0, problems, where) for i, item in enumerate(items)]
            if vcpus is not None and len(items) != vcpus:
                problems.append(
                    f"{where}: cpu_pinning must list one host CPU per vCPU ({vcpus}), got {len(items)}: {items!r}"
                )
            if all(cpu is not None for cpu in cpus):
                pinning = tuple(cpu for cpu in cpus if cpu is not None)

    network = entry.get("network")
    if network is not None and (not isinstance(network, str) or not _NETWORK_RE.fullmatch(network)):
        problems.append(f"{where}: network must match {NETWORK_PATTERN}, got {network!r}")

    nics: tuple[Nic, ...] | None = None
    if entry.get("nics") is not None:
        if network is not None:
            problems.append(f"{where}: give network or nics, not both (nics name their networks)")
        nics = parse_nics(entry["nics"], str(name), networks, where, problems)

    if len(problems) > before:
        return None
    assert isinstance(name, str) and vcpus is not None and memory is not None and disk is not None
    return GuestSpec(name, vcpus, memory, disk, str(xen_type), pinning, network, nics)


def _fail(problems: list[str], what: str) -> None:
    if problems:
        raise HvlabError(f"{what}: {len(problems)} problem(s): " + "; ".join(problems))


def parse_guests(raw: object, networks: Sequence[LabNetwork] = ()) -> tuple[GuestSpec, ...]:
    """Validate `hvlab_guests` (a list of mappings) and return the guests, defaults filled.

    networks are the lab's (hvlab.netspec.parse_networks of `hvlab_networks`), which the
    guests' nics must name. Raises HvlabError listing every problem of every guest, duplicate
    names and addresses included.
    """
    if raw is None:
        raw = []
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
        raise HvlabError(f"hvlab_guests must be a list of guests, got {raw!r}")
    problems: list[str] = []
    seen: dict[str, int] = {}
    duplicated: set[str] = set()
    for index, entry in enumerate(raw):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            duplicated.add(name)
            problems.append(f"guest #{index + 1}: name {name!r} is already used by guest #{seen[name] + 1}")
        else:
            seen[name] = index
    by_name = {net.name: net for net in networks}
    guests = [_parse_entry(index, entry, duplicated, by_name, problems) for index, entry in enumerate(raw)]
    problems += check_unique_addresses([(guest.name, guest.nics) for guest in guests if guest and guest.nics])
    _fail(problems, "invalid hvlab_guests")
    return tuple(guest for guest in guests if guest is not None)


def check_capacity(
    guests: Sequence[GuestSpec],
    *,
    host_memory_mib: int,
    host_cpus: int,
    reserve_mib: int = 0,
    host: str = "host",
) -> None:
    """Refuse guests the host cannot run side by side without overcommitting.

    Memory is summed over all guests (they run together, and overcommit would make the
    KVM/Xen comparison unfair); reserve_mib is what the host keeps for itself (dom0_mem on
    Xen, the host OS on KVM). vCPUs are checked per guest: more vCPUs than host CPUs only
    measures the scheduler's time slicing. Pinned CPUs must exist on the host.
    """
    problems: list[str] = []
    available = host_memory_mib - reserve_mib
    total = 0
    for guest in guests:
        if guest.memory_mib > available:
            problems.append(
                f"guest {guest.name}: memory_mib {guest.memory_mib} exceeds the {available} MiB {host} can give "
                f"({host_memory_mib} MiB minus {reserve_mib} MiB reserved)"
            )
        else:
            # A guest too big on its own is reported alone, not again in the total.
            total += guest.memory_mib
            if total > available:
                problems.append(
                    f"guest {guest.name}: memory_mib {guest.memory_mib} brings the guests' total to "
                    f"{total} MiB, above the {available} MiB {host} can give "
                    f"({host_memory_mib} MiB minus {reserve_mib} MiB reserved)"
                )
        if guest.vcpus > host_cpus:
            problems.append(f"guest {guest.name}: vcpus {guest.vcpus} exceeds the {host_cpus} CPUs of {host}")
        for index, cpu in enumerate(guest.cpu_pinning or ()):
            if cpu >= host_cpus:
                problems.append(
                    f"guest {guest.name}: cpu_pinning[{index}] is CPU {cpu}, but {host} has CPUs 0-{host_cpus - 1}"
                )
    _fail(problems, f"guests do not fit on {host}")


def xl_string(value: object, what: str = "value") -> str:
    """`value` as a double-quoted xl config string, refusing what xl cannot hold safely.

    xl config strings have no escape that every xl version reads the same way, so instead
    of escaping, quotes, backslashes and control characters (newline included) are refused.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise HvlabError(f"{what} must be a string for the xl config, got {value!r}")
    text = str(value)
    bad = _XL_FORBIDDEN_RE.search(text)
    if bad:
        raise HvlabError(
            f"{what} cannot go into an xl config string: it contains {bad.group()!r} "
            f"(quotes, backslashes and control characters are refused), got {text!r}"
        )
    return f'"{text}"'


_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def uuid_string(value: object, what: str = "uuid") -> str:
    """A UUID in lower-case 8-4-4-4-12 form, the form `xl list -l` prints and ownership compares."""
    if not isinstance(value, str) or not _UUID_RE.fullmatch(value):
        raise HvlabError(f"{what} must be a lower-case UUID (8-4-4-4-12 hex digits), got {value!r}")
    return value


def mac_address(value: object, what: str = "MAC address") -> str:
    """A MAC address in lower-case colon form, the only form both libvirt and xl read alike."""
    if not isinstance(value, str) or not _MAC_RE.fullmatch(value):
        raise HvlabError(f"{what} must be six lower-case hex pairs separated by ':', got {value!r}")
    return value


def safe_name(value: object, what: str = "name") -> str:
    """A network or bridge name that is safe in XML attributes and xl key=value lists."""
    if not isinstance(value, str) or not _NETWORK_RE.fullmatch(value):
        raise HvlabError(f"{what} must match {NETWORK_PATTERN}, got {value!r}")
    return value


def xml_escape(value: object, what: str = "value") -> str:
    """`value` escaped for XML text and attributes (either quote style), kept literal.

    Unlike Jinja's `e`, tabs and line breaks become character references too: a parser
    would otherwise turn them into spaces inside attributes (a path with a newline would
    name another file). Characters XML cannot hold are refused.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise HvlabError(f"{what} must be a string for XML, got {value!r}")
    text = str(value)
    bad = _XML_ILLEGAL_RE.search(text)
    if bad:
        raise HvlabError(f"{what} cannot go into XML: it contains {bad.group()!r}, got {text!r}")
    return "".join(_XML_ESCAPES.get(char, char) for char in text)
