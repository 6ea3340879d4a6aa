"""Lab networks and guests' NICs: every bad value is refused naming it, and a guest's
network-config is the same text whichever host renders it."""

from typing import Any

import pytest
import yaml

from hvlab import netspec
from hvlab.errors import HvlabError
from hvlab.netspec import network_config, nic_mac, parse_networks
from hvlab.spec import parse_guests

LAB = {"name": "lab", "cidr": "10.80.0.0/24"}
STORE = {"name": "store", "cidr": "10.81.0.0/24", "dhcp_range": ["10.81.0.100", "10.81.0.199"]}


def guest(name: str = "web1", **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "vcpus": 1, "memory_mib": 512, "disk_gib": 4}
    entry.update(overrides)
    return entry


def network_problems(raw: object) -> str:
    with pytest.raises(HvlabError) as exc:
        parse_networks(raw)
    assert "\n" not in str(exc.value)
    return str(exc.value)


def guest_problems(raw: object, networks: object = (LAB, STORE)) -> str:
    with pytest.raises(HvlabError) as exc:
        parse_guests(raw, parse_networks(networks))
    assert "\n" not in str(exc.value)
    return str(exc.value)


def test_a_network_gets_its_first_host_as_gateway_and_its_device_names() -> None:
    (lab, store) = parse_networks([LAB, STORE])
    assert lab.as_dict() == {
        "name": "lab", "cidr": "10.80.0.0/24", "prefix": 24, "netmask": "255.255.255.0",
        "gateway": "10.80.0.1", "dhcp_range": None, "bridge": "hvbr-lab", "libvirt_network": "hvlab-lab",
    }
    assert store.as_dict()["dhcp_range"] == ["10.81.0.100", "10.81.0.199"]


def test_no_networks_is_an_empty_lab() -> None:
    assert parse_networks(None) == ()
    assert parse_networks([]) == ()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"name": "Lab", "cidr": "10.80.0.0/24"}, "'Lab'"),
        ({"name": "a" * 11, "cidr": "10.80.0.0/24"}, "1-10 lower-case"),
        ({"name": "9lab", "cidr": "10.80.0.0/24"}, "starting with a letter"),
        ({"name": "lab", "cidr": "10.80.0.1/24"}, "no host bits"),
        ({"name": "lab", "cidr": "10.80.0.0"}, "'10.80.0.0'"),
        ({"name": "lab", "cidr": "10.80.0.0/30"}, "/8 to /29"),
        ({"name": "lab", "cidr": "fd00::/64"}, "'fd00::/64'"),
        ({"name": "lab", "cidr": "10.80.0.0/24", "gateway": "10.80.1.1"}, "gateway 10.80.1.1 is not a host address"),
        ({"name": "lab", "cidr": "10.80.0.0/24", "gateway": "10.80.0.255"}, "not a host address"),
        ({"name": "lab", "cidr": "10.80.0.0/24", "gateway": "x"}, "gateway must be an IPv4 address"),
        ({"name": "lab", "cidr": "10.80.0.0/24", "dhcp_range": "10.80.0.5-10.80.0.9"}, "list of two addresses"),
        ({"name": "lab", "cidr": "10.80.0.0/24", "dhcp_range": ["10.80.0.9", "10.80.0.5"]}, "starts after it ends"),
        ({"name": "lab", "cidr": "10.80.0.0/24", "dhcp_range": ["10.80.0.5", "10.80.1.9"]}, "10.80.1.9 is not a host"),
        ({"name": "lab", "cidr": "10.80.0.0/24", "dhcp_range": ["10.80.0.1", "10.80.0.9"]}, "10.80.0.1 is inside"),
        ({"name": "lab", "cidr": "10.80.0.0/24", "bridge": "eth0"}, "unknown field(s) bridge"),
        ("lab", "must be a mapping"),
    ],
)
def test_a_bad_network_is_refused_naming_the_value(entry: object, expected: str) -> None:
    assert expected in network_problems([entry])


def test_networks_that_share_addresses_or_a_name_are_refused() -> None:
    message = network_problems([LAB, {"name": "wide", "cidr": "10.80.0.0/16"}, {"name": "lab", "cidr": "10.90.0.0/24"}])
    assert "network wide: 10.80.0.0/16 overlaps network lab" in message
    assert "network lab: the name is used twice" in message


def test_hvlab_networks_must_be_a_list() -> None:
    assert "must be a list" in network_problems({"lab": LAB})


def test_a_mac_depends_on_the_guest_and_the_nic_only() -> None:
    mac = nic_mac("web1", 0)
    assert mac.startswith("02:") and len(mac.split(":")) == 6
    assert mac == nic_mac("web1", 0)
    assert len({mac, nic_mac("web1", 1), nic_mac("web2", 0)}) == 3


def test_a_guest_with_two_nics_is_normalised() -> None:
    (web1,) = parse_guests(
        [guest(nics=[{"network": "lab", "address": "10.80.0.10"}, {"network": "store", "address": "dhcp"}])],
        parse_networks([LAB, STORE]),
    )
    assert web1.as_dict()["nics"] == [
        {"network": "lab", "address": "10.80.0.10", "mac": nic_mac("web1", 0), "ifname": "eth0"},
        {"network": "store", "address": "dhcp", "mac": nic_mac("web1", 1), "ifname": "eth1"},
    ]


def test_a_guest_without_nics_keeps_none() -> None:
    (web1,) = parse_guests([guest()], parse_networks([LAB]))
    assert web1.nics is None and web1.as_dict()["nics"] is None


@pytest.mark.parametrize(
    ("nics", "expected"),
    [
        ([{"network": "wan", "address": "10.80.0.10"}], "network 'wan' is not one of hvlab_networks (lab, store)"),
        ([{"network": "lab", "address": "10.80.1.10"}], "address 10.80.1.10 is not a host address of 10.80.0.0/24"),
        ([{"network": "lab", "address": "10.80.0.1"}], "is network lab's gateway"),
        ([{"network": "lab", "address": "10.80.0.0"}], "not a host address"),
        ([{"network": "lab", "address": "ten"}], "address (or 'dhcp') must be an IPv4 address"),
        ([{"network": "store", "address": "dhcp"}], "the first NIC needs a static address"),
        ([{"network": "lab", "address": "10.80.0.10"}, {"network": "lab", "address": "dhcp"}], "one NIC per network"),
        ([{"network": "store", "address": "10.81.0.150"}], "inside network store's dhcp_range"),
        ([{"network": "lab", "address": "10.80.0.10"}, {"network": "lab2", "address": "dhcp"}], "'lab2'"),
        ([{"network": "lab", "address": "10.80.0.10", "mtu": 9000}], "unknown field(s) mtu"),
        ([], "1 to 8 NICs"),
        ("lab", "1 to 8 NICs"),
    ],
)
def test_a_bad_nic_is_refused_naming_the_value(nics: object, expected: str) -> None:
    assert expected in guest_problems([guest(nics=nics)])


def test_dhcp_needs_a_network_with_a_range() -> None:
    nics = [{"network": "store", "address": "10.81.0.10"}, {"network": "lab", "address": "dhcp"}]
    assert "address 'dhcp' on network lab, which has no dhcp_range" in guest_problems([guest(nics=nics)])


def test_network_and_nics_together_are_refused() -> None:
    assert "give network or nics, not both" in guest_problems(
        [guest(network="default", nics=[{"network": "lab", "address": "10.80.0.10"}])]
    )


def test_an_address_given_twice_is_refused_across_guests() -> None:
    message = guest_problems([
        guest("web1", nics=[{"network": "lab", "address": "10.80.0.10"}]),
        guest("web2", nics=[{"network": "lab", "address": "10.80.0.10"}]),
    ])
    assert "guest web2 nics[0]: address 10.80.0.10 is already guest web1 nics[0]'s" in message


def test_nics_without_hvlab_networks_are_refused() -> None:
    assert "none: hvlab_networks is empty" in guest_problems(
        [guest(nics=[{"network": "lab", "address": "10.80.0.10"}])], networks=[]
    )


def rendered(nics: list[dict[str, Any]]) -> str:
    networks = parse_networks([LAB, STORE])
    (web1,) = parse_guests([guest(nics=nics)], networks)
    return network_config(web1.as_dict()["nics"], [net.as_dict() for net in networks])


def test_network_config_routes_through_the_first_nic_and_leases_the_others() -> None:
    text = rendered([{"network": "lab", "address": "10.80.0.10"}, {"network": "store", "address": "dhcp"}])
    assert yaml.safe_load(text) == {
        "version": 2,
        "ethernets": {
            "eth0": {
                "match": {"macaddress": nic_mac("web1", 0)},
                "set-name": "eth0",
                "addresses": ["10.80.0.10/24"],
                "routes": [{"to": "0.0.0.0/0", "via": "10.80.0.1"}],
            },
            "eth1": {"match": {"macaddress": nic_mac("web1", 1)}, "set-name": "eth1", "dhcp4": True},
        },
    }


def test_a_second_static_nic_gets_no_default_route() -> None:
    text = rendered([{"network": "lab", "address": "10.80.0.10"}, {"network": "store", "address": "10.81.0.20"}])
    eth1 = yaml.safe_load(text)["ethernets"]["eth1"]
    assert eth1 == {"match": {"macaddress": nic_mac("web1", 1)}, "set-name": "eth1", "addresses": ["10.81.0.20/24"]}


def test_network_config_refuses_a_nic_on_an_unknown_network() -> None:
    nic = {"network": "wan", "address": "10.80.0.10", "mac": nic_mac("web1", 0), "ifname": "eth0"}
    with pytest.raises(HvlabError, match="'wan'"):
        network_config([nic], [net.as_dict() for net in parse_networks([LAB])])


def test_the_mac_prefix_is_locally_administered_unicast() -> None:
    first = int(netspec.MAC_PREFIX, 16)
    assert first & 0b10 and not first & 0b01


def test_the_filters_validate_networks_and_render_the_same_config() -> None:
    from ansible.errors import AnsibleFilterError
    from plugin_loader import load_plugin

    filters = load_plugin("plugins/filter/hvlab_spec.py", "hvlab_filter_netspec").FilterModule().filters()
    networks = filters["hvlab_networks_validated"]([LAB, STORE])
    assert networks == [net.as_dict() for net in parse_networks([LAB, STORE])]
    nics = [{"network": "lab", "address": "10.80.0.10"}, {"network": "store", "address": "dhcp"}]
    (web1,) = filters["hvlab_guests_validated"]([guest(nics=nics)], networks=[LAB, STORE])
    assert filters["hvlab_network_config"](web1["nics"], networks) == rendered(nics)
    with pytest.raises(AnsibleFilterError, match="overlaps network lab"):
        filters["hvlab_networks_validated"]([LAB, {"name": "wide", "cidr": "10.0.0.0/8"}])
    with pytest.raises(AnsibleFilterError, match="'store' is not one of hvlab_networks"):
        filters["hvlab_guests_validated"]([guest(nics=[{"network": "store", "address": "10.81.0.5"}])],
                                          networks=[LAB])


# --- lab networks against the host's own networks (both host roles, one check) --------------

def lab_dicts(*raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [net.as_dict() for net in parse_networks(list(raw))]


def test_a_lab_network_inside_a_host_network_overlaps() -> None:
    assert netspec.host_overlaps(lab_dicts(LAB), [("eth0", "10.80.0.5/16")]) == [
        "network lab (10.80.0.0/24) overlaps 10.80.0.0/16 on the host's interface eth0"
    ]


def test_a_host_network_inside_a_lab_network_overlaps() -> None:
    wide = {"name": "wide", "cidr": "10.0.0.0/8"}
    assert netspec.host_overlaps(lab_dicts(wide), [("lo", "127.0.0.1/8"), ("eth0", "10.9.8.7/24")]) == [
        "network wide (10.0.0.0/8) overlaps 10.9.8.0/24 on the host's interface eth0"
    ]


def test_a_host_address_in_netmask_form_is_read() -> None:
    assert netspec.host_overlaps(lab_dicts(LAB, STORE), [("br-uplink", "10.81.0.9/255.255.0.0")]) == [
        "network store (10.81.0.0/24) overlaps 10.81.0.0/16 on the host's interface br-uplink"
    ]


def test_the_lab_bridges_and_own_interfaces_are_skipped() -> None:
    host = [("hvbr-lab", "10.80.0.1/24"), ("virbr9", "10.81.0.1/24"), ("eth0", "192.0.2.2/24")]
    assert netspec.host_overlaps(lab_dicts(LAB, STORE), host, ["virbr9"]) == []
    assert netspec.host_overlaps(lab_dicts(LAB, STORE), host) == [
        "network store (10.81.0.0/24) overlaps 10.81.0.0/24 on the host's interface virbr9"
    ]


def test_overlaps_come_in_order_each_once() -> None:
    host = [("eth1", "10.81.0.7/16"), ("eth0", "10.80.0.5/16"), ("eth0", "10.80.0.6/16"), ("eth1", "10.81.3.3/16")]
    assert netspec.host_overlaps(lab_dicts(LAB, STORE), host) == [
        "network store (10.81.0.0/24) overlaps 10.81.0.0/16 on the host's interface eth1",
        "network lab (10.80.0.0/24) overlaps 10.80.0.0/16 on the host's interface eth0",
    ]


def test_no_overlap_gives_no_problem() -> None:
    host = [("lo", "127.0.0.1/8"), ("eth0", "192.0.2.2/24"), ("eth1", "fe80::1/64"), ("eth2", "10.80.1.2/24")]
    assert netspec.host_overlaps(lab_dicts(LAB, STORE), host) == []
    assert netspec.host_overlaps([], host) == []


def test_host_addresses_must_be_pairs() -> None:
    with pytest.raises(HvlabError, match="pairs"):
        netspec.host_overlaps(lab_dicts(LAB), ["eth0 10.80.0.5/16"])


def test_the_facts_give_each_interface_s_primary_address() -> None:
    facts = {
        "interfaces": ["lo", "br-lan", "eth0", "wlan0"],
        "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
        "br_lan": {"ipv4": {"address": "10.80.0.9", "netmask": "255.255.0.0"},
                   "ipv4_secondaries": [{"address": "10.99.0.1", "netmask": "255.255.255.0"}]},
        "eth0": {"ipv6": [{"address": "fe80::1", "prefix": "64"}]},
    }
    pairs = netspec.facts_ipv4(facts)
    assert pairs == [("lo", "127.0.0.1/255.0.0.0"), ("br-lan", "10.80.0.9/255.255.0.0")]
    assert netspec.host_overlaps(lab_dicts(LAB), pairs) == [
        "network lab (10.80.0.0/24) overlaps 10.80.0.0/16 on the host's interface br-lan"
    ]


def test_the_overlap_filters_give_the_same_answer() -> None:
    from ansible.errors import AnsibleFilterError
    from plugin_loader import load_plugin

    filters = load_plugin("plugins/filter/hvlab_spec.py", "hvlab_filter_overlaps").FilterModule().filters()
    facts = {"interfaces": ["lo", "virbr0"], "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
             "virbr0": {"ipv4": {"address": "10.80.0.1", "netmask": "255.255.255.0"}}}
    pairs = filters["hvlab_facts_ipv4"](facts)
    assert pairs == [["lo", "127.0.0.1/255.0.0.0"], ["virbr0", "10.80.0.1/255.255.255.0"]]
    networks = lab_dicts(LAB)
    assert filters["hvlab_host_overlaps"](networks, pairs) == [
        "network lab (10.80.0.0/24) overlaps 10.80.0.0/24 on the host's interface virbr0"
    ]
    assert filters["hvlab_host_overlaps"](networks, pairs, ["virbr0"]) == []
    with pytest.raises(AnsibleFilterError, match="pairs"):
        filters["hvlab_host_overlaps"](networks, [["eth0"]])
