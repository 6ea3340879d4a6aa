"""Lab networks and the guests' NICs on them, the same on both stacks.

`hvlab_networks` names host-only IPv4 networks that every host of the lab provides (a libvirt
network on KVM hosts, a Linux bridge on Xen hosts; the host holds the gateway address). A
guest's `nics` puts one NIC on each of some of them, with a static address or DHCP. Because
the addresses come from the spec and the MACs from the guest's name, a guest's cloud-init
network-config is the same bytes on both stacks: the comparison runs the same guest, not two
guests that differ in their network set-up.

Each network's host devices are named from the network's name here, once (bridge `hvbr-NAME`,
libvirt network `hvlab-NAME`), so the host roles that make them and the guests role that plugs
NICs into them cannot disagree. Names are short (10 characters) because a Linux interface name
holds at most 15.
"""

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from hvlab.errors import HvlabError

NETWORK_NAME_PATTERN = r"^[a-z][a-z0-9]{0,9}$"
BRIDGE_PREFIX = "hvbr-"
LIBVIRT_PREFIX = "hvlab-"
# The word a NIC's address takes to ask for DHCP.
DHCP = "dhcp"
MAX_NICS = 8
# Smallest and largest prefix length: a /31 or /32 has no room for a gateway and guests.
MIN_PREFIX = 8
MAX_PREFIX = 29
# Locally administered, unicast (RFC 7042): no vendor's prefix, the same on both stacks.
MAC_PREFIX = "02"

_NETWORK_FIELDS = ("name", "cidr", "gateway", "dhcp_range")
_NIC_FIELDS = ("network", "address")

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@dataclass(frozen=True)
class LabNetwork:
    """One host-only network of the lab: its subnet, the host's address in it (the guests'
    gateway) and, when DHCP is offered, the range the host's DHCP server leases from."""

    name: str
    network: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    dhcp_range: tuple[ipaddress.IPv4Address, ipaddress.IPv4Address] | None = None

    @property
    def bridge(self) -> str:
        """The host bridge (Xen: made by xen_host; KVM: libvirt's bridge of the network)."""
        return BRIDGE_PREFIX + self.name

    @property
    def libvirt_network(self) -> str:
        """The libvirt network kvm_host defines for it."""
        return LIBVIRT_PREFIX + self.name

    def in_dhcp_range(self, address: ipaddress.IPv4Address) -> bool:
        return self.dhcp_range is not None and self.dhcp_range[0] <= address <= self.dhcp_range[1]

    def as_dict(self) -> dict[str, Any]:
        """The normalised entry the host roles and templates read."""
        return {
            "name": self.name,
            "cidr": str(self.network),
            "prefix": self.network.prefixlen,
            "netmask": str(self.network.netmask),
            "gateway": str(self.gateway),
            "dhcp_range": [str(self.dhcp_range[0]), str(self.dhcp_range[1])] if self.dhcp_range else None,
            "bridge": self.bridge,
            "libvirt_network": self.libvirt_network,
        }


@dataclass(frozen=True)
class Nic:
    """One NIC of a guest: its network, its address (None: DHCP), its MAC and its name inside
    the guest (eth0, eth1, ... in the order of `nics`)."""

    network: str
    address: ipaddress.IPv4Address | None
    mac: str
    ifname: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "address": str(self.address) if self.address is not None else DHCP,
            "mac": self.mac,
            "ifname": self.ifname,
        }


def nic_mac(guest: str, index: int) -> str:
    """The MAC of a guest's NIC: from its name and position only, so it is the same on both
    stacks (and the network-config that matches on it is too)."""
    digest = hashlib.sha256(f"{guest}/{index}".encode()).hexdigest()
    return ":".join([MAC_PREFIX] + [digest[i:i + 2] for i in range(0, 10, 2)])


def _valid_network_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and 1 <= len(name) <= 10
        and name[0].isalpha()
        and all(char in _NAME_CHARS for char in name)
    )


def _address(value: object, what: str, problems: list[str]) -> ipaddress.IPv4Address | None:
    if not isinstance(value, str):
        problems.append(f"{what} must be an IPv4 address (a.b.c.d), got {value!r}")
        return None
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        problems.append(f"{what} must be an IPv4 address (a.b.c.d), got {value!r}")
        return None


def _host_address(
    network: ipaddress.IPv4Network, address: ipaddress.IPv4Address, what: str, problems: list[str]
) -> bool:
    """True when address is a usable host address of network (not its network or broadcast)."""
    if address not in network or address in (network.network_address, network.broadcast_address):
        problems.append(f"{what} {address} is not a host address of {network}")
        return False
    return True


def _parse_network(index: int, entry: object, problems: list[str]) -> LabNetwork | None:
    if not isinstance(entry, Mapping):
        problems.append(f"network #{index + 1}: must be a mapping, got {entry!r}")
        return None
    name = entry.get("name")
    where = f"network {name}" if _valid_network_name(name) else f"network #{index + 1}"
    before = len(problems)
    unknown = sorted(str(key) for key in entry if key not in _NETWORK_FIELDS)
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(_NETWORK_FIELDS)})")
    if not _valid_network_name(name):
        problems.append(
            f"{where}: name must be 1-10 lower-case letters and digits, starting with a letter "
            f"(it names the host bridge {BRIDGE_PREFIX}NAME, at most 15 characters), got {name!r}"
        )
    cidr = entry.get("cidr")
    network: ipaddress.IPv4Network | None = None
    try:
        network = ipaddress.IPv4Network(cidr, strict=True) if isinstance(cidr, str) and "/" in cidr else None
    except ValueError:
        network = None
    if network is None:
        problems.append(f"{where}: cidr must be an IPv4 network with no host bits set (a.b.c.0/24), got {cidr!r}")
    elif not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
        problems.append(f"{where}: cidr's prefix must be /{MIN_PREFIX} to /{MAX_PREFIX}, got {cidr!r}")
        network = None
    if network is None:
        return None

    raw_gateway = entry.get("gateway")
    gateway = (
        next(network.hosts()) if raw_gateway is None else _address(raw_gateway, f"{where}: gateway", problems)
    )
    if gateway is not None:
        _host_address(network, gateway, f"{where}: gateway", problems)

    dhcp_range = None
    raw_range = entry.get("dhcp_range")
    if raw_range is not None:
        if isinstance(raw_range, str | bytes | Mapping) or not isinstance(raw_range, Sequence) or len(raw_range) != 2:
            problems.append(f"{where}: dhcp_range must be a list of two addresses [first, last], got {raw_range!r}")
        else:
            first = _address(raw_range[0], f"{where}: dhcp_range[0]", problems)
            last = _address(raw_range[1], f"{where}: dhcp_range[1]", problems)
            if first is not None and last is not None:
                inside = _host_address(network, first, f"{where}: dhcp_range[0]", problems)
                inside = _host_address(network, last, f"{where}: dhcp_range[1]", problems) and inside
                if inside and first > last:
                    problems.append(f"{where}: dhcp_range starts after it ends ({first} > {last})")
                elif inside:
                    dhcp_range = (first, last)
                    if gateway is not None and first <= gateway <= last:
                        problems.append(f"{where}: the gateway {gateway} is inside dhcp_range {first}-{last}")
    if len(problems) > before or gateway is None:
        return None
    assert isinstance(name, str)
    return LabNetwork(name, network, gateway, dhcp_range)


def parse_networks(raw: object) -> tuple[LabNetwork, ...]:
    """Validate `hvlab_networks` and return the networks, gateways filled in.

    Raises HvlabError listing every problem: bad fields, duplicate names and networks that
    overlap (a host routes each network to its own bridge, so two cannot share addresses).
    """
    if raw is None:
        raw = []
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
        raise HvlabError(f"hvlab_networks must be a list of networks, got {raw!r}")
    problems: list[str] = []
    networks = [_parse_network(index, entry, problems) for index, entry in enumerate(raw)]
    seen: dict[str, LabNetwork] = {}
    for net in networks:
        if net is None:
            continue
        if net.name in seen:
            problems.append(f"network {net.name}: the name is used twice")
            continue
        for other in seen.values():
            if net.network.overlaps(other.network):
                problems.append(f"network {net.name}: {net.network} overlaps network {other.name} ({other.network})")
        seen[net.name] = net
    if problems:
        raise HvlabError(f"invalid hvlab_networks: {len(problems)} problem(s): " + "; ".join(problems))
    return tuple(net for net in networks if net is not None)


def facts_ipv4(facts: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(interface, "address/netmask") of each interface's primary IPv4 address in Ansible's
    facts: `interfaces` lists the names, and an interface's facts are under its name with '-'
    written '_' (br-lan -> br_lan). Interfaces without an IPv4 address are left out."""
    pairs: list[tuple[str, str]] = []
    for iface in facts.get("interfaces") or []:
        entry = facts.get(str(iface).replace("-", "_"))
        ipv4 = entry.get("ipv4") if isinstance(entry, Mapping) else None
        if isinstance(ipv4, Mapping) and "address" in ipv4 and "netmask" in ipv4:
            pairs.append((str(iface), f"{ipv4['address']}/{ipv4['netmask']}"))
    return pairs


def host_overlaps(
    networks: Sequence[Mapping[str, Any]],
    host_ipv4: Iterable[Sequence[str]],
    own_interfaces: Iterable[str] = (),
) -> list[str]:
    """Problems for lab networks that share addresses with a network the host is on.

    networks: the lab networks as parse_networks' as_dict entries (name, cidr, bridge).
    host_ipv4: (interface, "address/prefix" or "address/netmask") of the host's IPv4 addresses.
    own_interfaces: interfaces the role makes (its other bridges), skipped like the lab
    networks' own bridges: on a second run they carry the gateways themselves.

    A lab network is routed to its bridge, so it must not take the route of a network the host
    is on (its uplink: Ansible's own connection may go through it). One problem per lab network
    and host network, in order, each once; an address that is not IPv4 is skipped.
    """
    own = set(own_interfaces) | {str(net["bridge"]) for net in networks if net.get("bridge")}
    labs = [(str(net["name"]), str(net["cidr"]), ipaddress.IPv4Network(str(net["cidr"]))) for net in networks]
    problems: list[str] = []
    for pair in host_ipv4:
        if isinstance(pair, str | bytes) or len(pair) != 2:
            raise HvlabError(f"host addresses must be (interface, address/prefix) pairs, got {pair!r}")
        iface, address = str(pair[0]), str(pair[1])
        if iface in own:
            continue
        try:
            host_net = ipaddress.IPv4Interface(address).network
        except ValueError:
            continue
        for name, cidr, lab in labs:
            problem = f"network {name} ({cidr}) overlaps {host_net} on the host's interface {iface}"
            if lab.overlaps(host_net) and problem not in problems:
                problems.append(problem)
    return problems


def parse_nics(
    raw: object, guest: str, networks: Mapping[str, LabNetwork], where: str, problems: list[str]
) -> tuple[Nic, ...] | None:
    """One guest's `nics`, checked against the lab's networks (addresses inside their network,
    not its gateway, outside its DHCP range; DHCP only where the network offers it).

    The first NIC needs a static address: it carries the default route and is where hvlab
    reaches the guest (over SSH, through its host). Addresses taken twice are checked across
    guests by check_unique_addresses.
    """
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence) or not 1 <= len(raw) <= MAX_NICS:
        problems.append(f"{where}: nics must be a list of 1 to {MAX_NICS} NICs, got {raw!r}")
        return None
    before = len(problems)
    nics: list[Nic] = []
    used: set[str] = set()
    for index, entry in enumerate(raw):
        at = f"{where}: nics[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{at} must be a mapping with network and address, got {entry!r}")
            continue
        unknown = sorted(str(key) for key in entry if key not in _NIC_FIELDS)
        if unknown:
            problems.append(f"{at}: unknown field(s) {', '.join(unknown)} (known: {', '.join(_NIC_FIELDS)})")
        name = entry.get("network")
        net = networks.get(name) if isinstance(name, str) else None
        if net is None:
            known = ", ".join(sorted(networks)) or "none: hvlab_networks is empty"
            problems.append(f"{at}: network {name!r} is not one of hvlab_networks ({known})")
            continue
        if net.name in used:
            problems.append(f"{at}: a second NIC on network {net.name} (one NIC per network)")
        used.add(net.name)
        raw_address = entry.get("address")
        address: ipaddress.IPv4Address | None = None
        if raw_address == DHCP:
            if index == 0:
                problems.append(
                    f"{at}: the first NIC needs a static address (hvlab reaches the guest through it), got 'dhcp'"
                )
            elif net.dhcp_range is None:
                problems.append(f"{at}: address 'dhcp' on network {net.name}, which has no dhcp_range")
        else:
            address = _address(raw_address, f"{at}: address (or 'dhcp')", problems)
            if address is not None and _host_address(net.network, address, f"{at}: address", problems):
                if address == net.gateway:
                    problems.append(f"{at}: address {address} is network {net.name}'s gateway (the host)")
                elif net.in_dhcp_range(address):
                    problems.append(f"{at}: address {address} is inside network {net.name}'s dhcp_range")
        nics.append(Nic(net.name, address, nic_mac(guest, index), f"eth{index}"))
    if len(problems) > before:
        return None
    return tuple(nics)


def check_unique_addresses(guests: Sequence[tuple[str, Sequence[Nic]]]) -> list[str]:
    """Problems for static addresses given to more than one NIC (of one guest or of two)."""
    problems: list[str] = []
    owner: dict[ipaddress.IPv4Address, str] = {}
    for guest, nics in guests:
        for index, nic in enumerate(nics):
            if nic.address is None:
                continue
            here = f"guest {guest} nics[{index}]"
            if nic.address in owner:
                problems.append(f"{here}: address {nic.address} is already {owner[nic.address]}'s")
            else:
                owner[nic.address] = here
    return problems


def network_config(nics: Sequence[Mapping[str, Any]], networks: Sequence[Mapping[str, Any]]) -> str:
    """cloud-init network-config v2 for a guest's NICs (entries of GuestSpec.as_dict()['nics']),
    on the networks of parse_networks (as_dict entries): the same text on every host.

    Each NIC is matched by its MAC and named eth0, eth1, ...; the first (static) one carries
    the default route through its network's gateway, the others reach only their own network.
    No nameserver: the lab networks are host-only and their hosts serve no DNS.
    """
    by_name = {str(net["name"]): net for net in networks}
    ethernets: dict[str, Any] = {}
    for index, nic in enumerate(nics):
        net = by_name.get(str(nic["network"]))
        if net is None:
            raise HvlabError(f"network-config: NIC {nic['ifname']!r} is on network {nic['network']!r}, "
                             f"which is not one of hvlab_networks")
        entry: dict[str, Any] = {"match": {"macaddress": str(nic["mac"])}, "set-name": str(nic["ifname"])}
        if nic["address"] == DHCP:
            entry["dhcp4"] = True
        else:
            entry["addresses"] = [f"{nic['address']}/{net['prefix']}"]
            if index == 0:
                # routes, not gateway4: cloud-init 25 (Debian 13) reports gateway4 as deprecated.
                entry["routes"] = [{"to": "0.0.0.0/0", "via": str(net["gateway"])}]
        ethernets[str(nic["ifname"])] = entry
    return yaml.safe_dump({"version": 2, "ethernets": ethernets}, sort_keys=False, default_flow_style=False)
