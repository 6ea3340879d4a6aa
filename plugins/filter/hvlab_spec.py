"""Ansible filters over hvlab's guest spec model (src/hvlab/spec.py).

The playbooks validate `hvlab_guests` with the very code the CLI uses, instead of a second
copy in YAML asserts that could drift. The controller runs Ansible from the project venv,
where hvlab is installed (editable), so `hvlab.spec` is importable here.

Filters:
  hvlab_guests_validated(guests, host_memory_mib=None, host_cpus=None, reserve_mib=0, host="host",
                         networks=None)
      the normalised guest list (defaults filled); with host_memory_mib and host_cpus, also
      the capacity check against that host. networks: the raw `hvlab_networks`, which the
      guests' nics must name (hvlab.netspec).
  hvlab_networks_validated(networks)
      the normalised `hvlab_networks` (gateway filled, host bridge and libvirt network names).
  hvlab_network_config(nics, networks)
      a guest's cloud-init network-config v2 (the text is the same on every host) from its
      normalised nics and the normalised networks.
  hvlab_host_overlaps(networks, host_ipv4, own_interfaces=())
      "network NAME (CIDR) overlaps NET on the host's interface IFACE" for each lab network (the
      normalised `hvlab_networks`) that shares addresses with one of host_ipv4, a list of
      [interface, "address/prefix" or "address/netmask"]; the lab networks' bridges and
      own_interfaces are skipped (hvlab.netspec.host_overlaps).
  hvlab_facts_ipv4(ansible_facts)
      [interface, "address/netmask"] of each interface's primary IPv4 address in Ansible's facts,
      for hvlab_host_overlaps.
  hvlab_xl_quote(value, what="value")
      value as a double-quoted xl config string; refuses quotes, backslashes, newlines.
  hvlab_xml_escape(value, what="value")
      value escaped for XML text and attributes, line breaks included (Jinja's `e` leaves
      them, and XML parsers turn them into spaces in attributes); refuses what XML cannot hold.
  hvlab_safe_name(value, what="name")
      value unchanged if it is a safe network/bridge name, else an error.
  hvlab_mac(value, what="MAC address")
      value unchanged if it is a lower-case colon-separated MAC address, else an error.
  hvlab_libvirt_ownership(xml, name, guest_dir)
      "" when the domain XML is hvlab's guest `name` kept in guest_dir, else why not (hvlab.ownership).
  hvlab_libvirt_owned(xml_by_name, guests_dir)
      the names (of a dict name -> domain XML) that are hvlab guests of guests_dir.
  hvlab_pv_fairness_keys(stack)
      the pv_fairness claim record's keys for stack "kvm" or "xen" (pv, emulated, pv_prefix,
      emulated_prefix), which the report reads the record with (hvlab.report.claims).
  hvlab_seed_instance_id(name, user_data, network_config)
      cloud-init's instance-id for a seed, new whenever its content changes (hvlab.seed).
  hvlab_uuid(value, what="uuid")
      value unchanged if it is a lower-case 8-4-4-4-12 UUID, else an error.
  hvlab_results_refusal(path, replace)
      "" when the compare role may write its records in the controller directory path, else
      why not (hvlab.results_guard, the check `hvlab up --results` makes); reads the directory.
  hvlab_holds_comparison(path)
      true when the controller directory path holds a comparison of hvlab's (its lab.json,
      parsed: hvlab.results_guard), where the claims role may add its records.
  hvlab_host_dir_problem(path)
      "" when path may be a directory hvlab creates on a host, else why not: absolute,
      normalised, and not one of the system directories (the one list: hvlab.hostdirs).
Every problem is raised as AnsibleFilterError carrying HvlabError's one-line text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from hvlab import hostdirs, netspec, ownership, results_guard, seed, spec
    from hvlab.errors import HvlabError
    from hvlab.report import claims as report_claims
except ImportError as exc:  # pragma: no cover - depends on how Ansible was started
    spec = None  # type: ignore[assignment]
    ownership = None  # type: ignore[assignment]
    results_guard = None  # type: ignore[assignment]
    seed = None  # type: ignore[assignment]
    hostdirs = None  # type: ignore[assignment]
    netspec = None  # type: ignore[assignment]
    report_claims = None  # type: ignore[assignment]
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None


def _spec_module() -> Any:
    if spec is None:
        raise AnsibleFilterError(
            "the hvlab filters need the hvlab package: run Ansible from the project venv "
            f"(.venv/bin/ansible-playbook) where hvlab is installed ({_IMPORT_ERROR})"
        )
    return spec


def hvlab_guests_validated(
    guests: object,
    host_memory_mib: int | None = None,
    host_cpus: int | None = None,
    reserve_mib: int = 0,
    host: str = "host",
    networks: object = None,
) -> list[dict[str, Any]]:
    model = _spec_module()
    try:
        parsed = model.parse_guests(guests, netspec.parse_networks(networks))
        if host_memory_mib is not None or host_cpus is not None:
            if host_memory_mib is None or host_cpus is None:
                raise HvlabError("hvlab_guests_validated: give both host_memory_mib and host_cpus, or neither")
            model.check_capacity(
                parsed,
                host_memory_mib=int(host_memory_mib),
                host_cpus=int(host_cpus),
                reserve_mib=int(reserve_mib),
                host=str(host),
            )
    except HvlabError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    return [guest.as_dict() for guest in parsed]


def hvlab_networks_validated(networks: object) -> list[dict[str, Any]]:
    _spec_module()
    try:
        return [net.as_dict() for net in netspec.parse_networks(networks)]
    except HvlabError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def hvlab_network_config(nics: list[dict[str, Any]], networks: list[dict[str, Any]]) -> str:
    _spec_module()
    try:
        return str(netspec.network_config(nics, networks))
    except HvlabError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def hvlab_host_overlaps(
    networks: list[dict[str, Any]], host_ipv4: list[list[str]], own_interfaces: list[str] | None = None
) -> list[str]:
    _spec_module()
    try:
        return list(netspec.host_overlaps(networks, host_ipv4, own_interfaces or ()))
    except HvlabError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def hvlab_facts_ipv4(facts: dict[str, Any]) -> list[list[str]]:
    _spec_module()
    return [list(pair) for pair in netspec.facts_ipv4(facts)]


def _checked(check_name: str, value: object, what: str) -> str:
    """Run one of hvlab.spec's value checks, turning its HvlabError into a filter error."""
    check = getattr(_spec_module(), check_name)
    try:
        return str(check(value, str(what)))
    except HvlabError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def hvlab_xl_quote(value: object, what: str = "value") -> str:
    return _checked("xl_string", value, what)


def hvlab_xml_escape(value: object, what: str = "value") -> str:
    return _checked("xml_escape", value, what)


def hvlab_safe_name(value: object, what: str = "name") -> str:
    return _checked("safe_name", value, what)


def hvlab_mac(value: object, what: str = "MAC address") -> str:
    return _checked("mac_address", value, what)


def hvlab_uuid(value: object, what: str = "uuid") -> str:
    return _checked("uuid_string", value, what)


def hvlab_libvirt_ownership(xml_text: object, name: str, guest_dir: str) -> str:
    _spec_module()
    return str(ownership.libvirt_ownership(xml_text, str(name), str(guest_dir)))


def hvlab_libvirt_owned(xml_by_name: dict[str, object], guests_dir: str) -> list[str]:
    _spec_module()
    return list(ownership.libvirt_owned(xml_by_name, str(guests_dir)))


def hvlab_seed_instance_id(name: str, user_data: str, network_config: str) -> str:
    _spec_module()
    try:
        return str(seed.instance_id(str(name), str(user_data), str(network_config)))
    except HvlabError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def hvlab_results_refusal(path: str, replace: bool) -> str:
    _spec_module()
    return str(results_guard.refusal(Path(str(path)), replace=bool(replace), option="compare_results_dir",
                                     replace_option="compare_replace_results: true",
                                     ignored=results_guard.UP_FILES))


def hvlab_holds_comparison(path: str) -> bool:
    _spec_module()
    return bool(results_guard.holds_comparison(Path(str(path))))


def hvlab_host_dir_problem(path: object) -> str:
    _spec_module()
    return str(hostdirs.host_dir_problem(path))


def hvlab_pv_fairness_keys(stack: str) -> dict[str, str]:
    _spec_module()
    if stack not in report_claims.PV_FAIRNESS_KEYS:
        raise AnsibleFilterError(f"hvlab_pv_fairness_keys: stack must be kvm or xen, not {stack!r}")
    return dict(report_claims.PV_FAIRNESS_KEYS[stack]._asdict())


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "hvlab_guests_validated": hvlab_guests_validated,
            "hvlab_networks_validated": hvlab_networks_validated,
            "hvlab_network_config": hvlab_network_config,
            "hvlab_host_overlaps": hvlab_host_overlaps,
            "hvlab_facts_ipv4": hvlab_facts_ipv4,
            "hvlab_xl_quote": hvlab_xl_quote,
            "hvlab_xml_escape": hvlab_xml_escape,
            "hvlab_safe_name": hvlab_safe_name,
            "hvlab_mac": hvlab_mac,
            "hvlab_uuid": hvlab_uuid,
            "hvlab_seed_instance_id": hvlab_seed_instance_id,
            "hvlab_libvirt_ownership": hvlab_libvirt_ownership,
            "hvlab_libvirt_owned": hvlab_libvirt_owned,
            "hvlab_results_refusal": hvlab_results_refusal,
            "hvlab_holds_comparison": hvlab_holds_comparison,
            "hvlab_host_dir_problem": hvlab_host_dir_problem,
            "hvlab_pv_fairness_keys": hvlab_pv_fairness_keys,
        }
