# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What hvlab's modules share about domains: the names they accept and `xl list -l`.

The modules run on lab hosts, where the hvlab package is not installed, so the name
patterns are copies of hvlab.spec's (a unit test keeps them equal). xl_domain and
guest_ssh_wait both find a Xen domain by name in `xl list -l`; one parser serves both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Same pattern as hvlab.spec.NAME_PATTERN (a unit test keeps them equal).
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
# Same as hvlab.spec.ID_LIKE_PATTERN: names xl or virsh would read as a domid or a UUID.
ID_LIKE_PATTERN = r"^([0-9]+|([0-9a-f]-*){31}[0-9a-f])$"


class XlError(Exception):
    """A problem reported through fail_json, with its message as-is."""


def name_problem(name: str) -> str | None:
    """Why name cannot be a domain name hvlab acts on, or None when it can.

    A name that xl or virsh may read as a domain id or UUID would address another domain.
    """
    if not re.fullmatch(NAME_PATTERN, name):
        return f"name must be a DNS label matching {NAME_PATTERN}, got {name!r}"
    if re.fullmatch(ID_LIKE_PATTERN, name):
        return (f"name must not be all digits or shaped like a UUID (xl reads it as a domain id or UUID), "
                f"got {name!r}")
    return None


@dataclass(frozen=True)
class Domain:
    """A running domain as `xl list -l` shows it: its domid and its uuid (lower case, or None)."""

    domid: int
    uuid: str | None


def parse_xl_list(output: str) -> dict[str, Domain]:
    """Map domain name -> Domain from `xl list -l` JSON, Domain-0 (domid 0) left out.

    Empty output means no domains. Entries without a name (xl prints some when it cannot
    read a domain's config) are skipped: they cannot be the domain we look for by name.
    """
    if not output.strip():
        return {}
    try:
        data = json.loads(output)
    except ValueError as exc:
        raise XlError(
            f"cannot parse `xl list -l` output as JSON ({exc}); is output_format=\"json\" in /etc/xen/xl.conf? "
            f"output starts with {output[:120]!r}"
        ) from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise XlError(f"`xl list -l` printed JSON that is not a list of domains: {output[:120]!r}")
    domains: dict[str, Domain] = {}
    for entry in data:
        if not isinstance(entry, dict):
            continue
        domid = entry.get("domid")
        if not isinstance(domid, int) or isinstance(domid, bool) or domid == 0:
            continue
        c_info = (entry.get("config") or {}).get("c_info") or {}
        name = c_info.get("name") if isinstance(c_info, dict) else None
        uuid = c_info.get("uuid") if isinstance(c_info, dict) else None
        if isinstance(name, str) and name:
            domains[name] = Domain(domid, uuid.lower() if isinstance(uuid, str) else None)
    return domains
