"""The cloud-init NoCloud seed's instance-id, derived from what the seed tells the guest.

cloud-init runs its per-instance steps (users and their SSH keys, the network config) only
when the instance-id differs from the one it saw last: with a constant id, a seed rebuilt with
new keys or a new address is ignored by a guest that booted once. Deriving the id from the
seed's content gives a new id exactly when that content changes, and the same id otherwise
(so an unchanged seed is not rebuilt and the guest does not redo its first boot).
"""

import hashlib

from hvlab.errors import HvlabError
from hvlab.spec import valid_name


def instance_id(name: str, user_data: str, network_config: str) -> str:
    """`hvlab-NAME-` and 16 hex digits of the sha256 of the guest's user-data and network-config."""
    if not valid_name(name):
        raise HvlabError(f"seed instance-id: {name!r} is not a valid guest name")
    digest = hashlib.sha256("\0".join((name, user_data, network_config)).encode()).hexdigest()
    return f"hvlab-{name}-{digest[:16]}"
