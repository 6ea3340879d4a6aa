"""hvlab.seed: the instance-id changes exactly when what the seed tells the guest changes."""

import pytest
from plugin_loader import load_plugin

from hvlab.errors import HvlabError
from hvlab.seed import instance_id

USER_DATA = "#cloud-config\nusers: [{name: hvlab, ssh_authorized_keys: [ssh-ed25519 AAAA one]}]\n"
NETWORK = "version: 2\nethernets: {eth0: {addresses: [10.0.0.100/24]}}\n"


def test_the_same_seed_keeps_its_id() -> None:
    first = instance_id("g1", USER_DATA, NETWORK)
    assert first == instance_id("g1", USER_DATA, NETWORK)
    assert first.startswith("hvlab-g1-") and len(first) == len("hvlab-g1-") + 16


def test_new_keys_or_a_new_address_give_a_new_id() -> None:
    first = instance_id("g1", USER_DATA, NETWORK)
    assert instance_id("g1", USER_DATA.replace("one", "two"), NETWORK) != first
    assert instance_id("g1", USER_DATA, NETWORK.replace(".100/", ".101/")) != first
    assert instance_id("g2", USER_DATA, NETWORK) != first


def test_a_bad_name_is_refused() -> None:
    with pytest.raises(HvlabError, match="not a valid guest name"):
        instance_id("g1\ninstance-id: x", USER_DATA, NETWORK)


def test_the_filter_exposes_it() -> None:
    filters = load_plugin("plugins/filter/hvlab_spec.py", "hvlab_filter_for_seed").FilterModule().filters()
    assert filters["hvlab_seed_instance_id"]("g1", USER_DATA, NETWORK) == instance_id("g1", USER_DATA, NETWORK)
