"""The guest spec model refuses every bad input with one message listing all problems."""

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from plugin_loader import load_plugin

from hvlab import spec
from hvlab.errors import HvlabError
from hvlab.spec import GuestSpec, check_capacity, parse_guests, safe_name, xl_string

ROOT = Path(__file__).resolve().parents[2]


def good(**overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": "web1", "vcpus": 2, "memory_mib": 512, "disk_gib": 4}
    entry.update(overrides)
    return entry


def problems_of(raw: object) -> str:
    with pytest.raises(HvlabError) as exc:
        parse_guests(raw)
    message = str(exc.value)
    assert "\n" not in message, "messages stay on one line"
    return message


def test_good_spec_fills_defaults() -> None:
    guests = parse_guests([good(), good(name="db-1", vcpus=1, memory_mib=128, disk_gib=1, xen_type="hvm")])
    assert guests == (
        GuestSpec("web1", 2, 512, 4, "pvh", None, None),
        GuestSpec("db-1", 1, 128, 1, "hvm", None, None),
    )
    assert guests[0].as_dict() == {
        "name": "web1", "vcpus": 2, "memory_mib": 512, "disk_gib": 4,
        "xen_type": "pvh", "cpu_pinning": None, "network": None, "nics": None,
    }


def test_optional_fields_and_decimal_strings() -> None:
    (guest,) = parse_guests([good(vcpus="2", memory_mib="1024", cpu_pinning=[0, "1"], network="hvlab.net_1")])
    assert guest.vcpus == 2 and guest.memory_mib == 1024
    assert guest.cpu_pinning == (0, 1)
    assert guest.network == "hvlab.net_1"
    assert guest.as_dict()["cpu_pinning"] == [0, 1]


def test_empty_and_missing_list_mean_no_guests() -> None:
    assert parse_guests([]) == ()
    assert parse_guests(None) == ()


def test_guests_are_frozen() -> None:
    (guest,) = parse_guests([good()])
    with pytest.raises(AttributeError):
        guest.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "name",
    ["we<b", "we'b", 'we"b', "web 1", "../web", "web/..", "Web1", "-web", "web-", "", "a" * 64, "we&b", "web\n1",
     "web1\n", 7],
)
def test_bad_names_are_refused(name: object) -> None:
    message = problems_of([good(name=name)])
    assert "name must be a DNS label" in message
    assert repr(name) in message


@pytest.mark.parametrize(
    "name",
    ["1", "0", "42", "007",
     "8c4f0d2e-0000-4000-8000-000000000001",  # a UUID: virsh looks it up as one
     "8c4f0d2e000040008000000000000001",  # libvirt also reads 32 hex digits without dashes
     "8c-4f-0d2e000040008000000000000001"],  # and with dashes between any two digit pairs
)
def test_names_a_tool_reads_as_a_domain_id_or_uuid_are_refused(name: str) -> None:
    message = problems_of([good(name=name)])
    assert "name must not be all digits or shaped like a UUID" in message
    assert repr(name) in message
    assert "guest #1" in message, "the guest is named by position: its name names another domain"


@pytest.mark.parametrize("name", ["1a", "1-2", "web1", "8c4f0d2e-0000-4000-8000-00000000000g", "g" * 32,
                                  "8c4f0d2e00004000800000000000001"])
def test_names_with_digits_that_no_tool_reads_as_an_id_are_accepted(name: str) -> None:
    assert parse_guests([good(name=name)])[0].name == name


def test_longest_label_is_accepted() -> None:
    assert parse_guests([good(name="a" * 63)])[0].name == "a" * 63


def test_duplicates_are_refused() -> None:
    message = problems_of([good(), good(name="db"), good(vcpus=1)])
    assert "guest #3: name 'web1' is already used by guest #1" in message


def test_problems_of_duplicated_guests_name_their_position() -> None:
    message = problems_of([good(), good(vcpus=0)])
    assert "guest #2 (web1): vcpus must be an integer >= 1, got 0" in message


@pytest.mark.parametrize(
    ("field", "value", "minimum"),
    [
        ("vcpus", 0, 1), ("vcpus", -1, 1), ("memory_mib", 0, 128), ("memory_mib", 127, 128),
        ("memory_mib", -512, 128), ("disk_gib", 0, 1), ("disk_gib", -4, 1), ("vcpus", True, 1),
        ("vcpus", 1.5, 1), ("vcpus", "two", 1), ("disk_gib", None, 1),
    ],
)
def test_bad_sizes_are_refused(field: str, value: object, minimum: int) -> None:
    message = problems_of([good(**{field: value})])
    assert f"guest web1: {field} must be an integer >= {minimum}, got {value!r}" in message


@pytest.mark.parametrize("xen_type", ["PV", "hvm2", "", 1])
def test_unknown_xen_type_is_refused(xen_type: object) -> None:
    assert f"xen_type must be one of pv, pvh, hvm, got {xen_type!r}" in problems_of([good(xen_type=xen_type)])


def test_missing_and_unknown_fields() -> None:
    message = problems_of([{"name": "web1", "memory_mb": 512}])
    for text in ("vcpus is required", "memory_mib is required", "disk_gib is required", "unknown field(s) memory_mb"):
        assert text in message


@pytest.mark.parametrize(
    ("pinning", "text"),
    [
        ([0], "cpu_pinning must list one host CPU per vCPU (2), got 1"),
        ("0-1", "cpu_pinning must be a list of host CPU numbers"),
        ([0, -1], "cpu_pinning[1] must be an integer >= 0, got -1"),
        ([0, "x"], "cpu_pinning[1] must be an integer >= 0, got 'x'"),
    ],
)
def test_bad_pinning_is_refused(pinning: object, text: str) -> None:
    assert text in problems_of([good(cpu_pinning=pinning)])


@pytest.mark.parametrize("network", ["", "-net", "my net", "net<1>", "net'", "net\n", 5])
def test_bad_network_is_refused(network: object) -> None:
    assert "network must match" in problems_of([good(network=network)])


def test_all_problems_are_listed_at_once() -> None:
    message = problems_of([good(vcpus=0, disk_gib=0), good(name="bad name"), "not a mapping"])
    assert message.startswith("invalid hvlab_guests: 4 problem(s): ")
    assert "guest web1: vcpus" in message
    assert "guest web1: disk_gib" in message
    assert "guest #2: name must be a DNS label" in message
    assert "guest #3: must be a mapping" in message


@pytest.mark.parametrize("raw", ["web1", {"name": "web1"}, 3])
def test_spec_must_be_a_list(raw: object) -> None:
    assert "hvlab_guests must be a list" in problems_of(raw)


# --- capacity ---------------------------------------------------------------------------

def test_capacity_good_path() -> None:
    guests = parse_guests([good(memory_mib=1024), good(name="db", memory_mib=1024, cpu_pinning=[0, 1])])
    check_capacity(guests, host_memory_mib=3072, host_cpus=2, reserve_mib=1024, host="xen1")


def test_total_memory_above_host_capacity() -> None:
    guests = parse_guests([good(memory_mib=1024), good(name="db", memory_mib=1024)])
    with pytest.raises(HvlabError) as exc:
        check_capacity(guests, host_memory_mib=3000, host_cpus=2, reserve_mib=1024, host="xen1")
    message = str(exc.value)
    assert message.startswith("guests do not fit on xen1: 1 problem(s): guest db: memory_mib 1024 brings")
    assert "2048 MiB, above the 1976 MiB xen1 can give (3000 MiB minus 1024 MiB reserved)" in message


def test_every_capacity_problem_names_guest_and_field() -> None:
    guests = parse_guests([good(memory_mib=8192, vcpus=4), good(name="db", vcpus=2, cpu_pinning=[1, 2])])
    with pytest.raises(HvlabError) as exc:
        check_capacity(guests, host_memory_mib=4096, host_cpus=2, host="kvm1")
    message = str(exc.value)
    assert "guest web1: memory_mib 8192 exceeds the 4096 MiB kvm1 can give" in message
    assert "guest web1: vcpus 4 exceeds the 2 CPUs of kvm1" in message
    assert "guest db: cpu_pinning[1] is CPU 2, but kvm1 has CPUs 0-1" in message
    assert "4 problem(s)" not in message and "3 problem(s)" in message


# --- xl strings and names ------------------------------------------------------------------

def test_xl_string_quotes_plain_values() -> None:
    assert xl_string("/var/lib/hvlab/images/web1.qcow2") == '"/var/lib/hvlab/images/web1.qcow2"'
    assert xl_string("console=hvc0 root=/dev/xvda1") == '"console=hvc0 root=/dev/xvda1"'


@pytest.mark.parametrize("value", ['a"b', "a'b", "a\\b", "a\nb", "a\rb", "a\x00b", None, True, ["x"]])
def test_xl_string_refuses_what_xl_cannot_hold(value: object) -> None:
    with pytest.raises(HvlabError, match="guests_cmdline"):
        xl_string(value, "guests_cmdline")


def test_safe_name() -> None:
    assert safe_name("xenbr0") == "xenbr0"
    with pytest.raises(HvlabError, match="guests_xen_bridge must match"):
        safe_name("xenbr0,script=/tmp/x", "guests_xen_bridge")


# --- the Ansible filter ----------------------------------------------------------------------

def load_filter_module() -> ModuleType:
    return load_plugin("plugins/filter/hvlab_spec.py", "hvlab_filter_under_test")


def test_filter_accepts_good_list_and_fills_defaults() -> None:
    filters = load_filter_module().FilterModule().filters()
    result = filters["hvlab_guests_validated"]([good(xen_type=None)])
    assert result == [parse_guests([good()])[0].as_dict()]
    assert result[0]["xen_type"] == "pvh"


def test_filter_raises_ansible_error_with_spec_text() -> None:
    from ansible.errors import AnsibleFilterError

    filters = load_filter_module().FilterModule().filters()
    with pytest.raises(AnsibleFilterError) as exc:
        filters["hvlab_guests_validated"]([good(), good(name="we<b")])
    with pytest.raises(HvlabError) as direct:
        parse_guests([good(), good(name="we<b")])
    assert str(direct.value) in str(exc.value)


def test_filter_capacity_check() -> None:
    from ansible.errors import AnsibleFilterError

    validated = load_filter_module().FilterModule().filters()["hvlab_guests_validated"]
    assert validated([good()], host_memory_mib=2048, host_cpus=2, reserve_mib=1024, host="xen1")
    with pytest.raises(AnsibleFilterError, match="guest web1: memory_mib 512 exceeds the 256 MiB xen1 can give"):
        validated([good()], host_memory_mib=1280, host_cpus=2, reserve_mib=1024, host="xen1")
    with pytest.raises(AnsibleFilterError, match="give both host_memory_mib and host_cpus"):
        validated([good()], host_memory_mib=2048)


def test_filter_exposes_xl_helpers() -> None:
    from ansible.errors import AnsibleFilterError

    filters = load_filter_module().FilterModule().filters()
    assert filters["hvlab_xl_quote"]("x") == '"x"'
    with pytest.raises(AnsibleFilterError, match="contains"):
        filters["hvlab_xl_quote"]('x"')
    with pytest.raises(AnsibleFilterError, match="must match"):
        filters["hvlab_safe_name"]("a b")


def test_module_name_pattern_matches_spec() -> None:
    """The modules' shared code cannot import hvlab on a lab host; its copy must not drift."""
    text = (ROOT / "plugins" / "module_utils" / "domains.py").read_text()
    assert f'NAME_PATTERN = r"{spec.NAME_PATTERN}"' in text
    assert f'ID_LIKE_PATTERN = r"{spec.ID_LIKE_PATTERN}"' in text


def test_xml_escape_keeps_every_character_literal() -> None:
    import xml.etree.ElementTree as ET

    from hvlab.spec import xml_escape

    value = "a<b>&'\"\tc\nd\re"
    escaped = xml_escape(value)
    assert "<" not in escaped and "\n" not in escaped and "\r" not in escaped
    for quote in ("'", '"'):
        element = ET.fromstring(f"<x a={quote}{escaped}{quote}>{escaped}</x>")
        assert element.get("a") == value
        assert element.text == value


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", None, True])
def test_xml_escape_refuses_what_xml_cannot_hold(value: object) -> None:
    from hvlab.spec import xml_escape

    with pytest.raises(HvlabError, match="guests_disk_path"):
        xml_escape(value, "guests_disk_path")
