"""Where hvlab keeps things on the controller, following the XDG base directories.

Images are a cache (rebuildable, shared by every lab); lab machines are state
(overlays, keys, pid files) that belongs to one lab and is removed by `vlab down`.
Both can be redirected with HVLAB_CACHE_DIR / HVLAB_STATE_DIR, which the tests use.
"""

import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def cache_dir() -> Path:
    explicit = os.environ.get("HVLAB_CACHE_DIR")
    return Path(explicit) if explicit else _xdg("XDG_CACHE_HOME", ".cache") / "hvlab"


def state_dir() -> Path:
    explicit = os.environ.get("HVLAB_STATE_DIR")
    return Path(explicit) if explicit else _xdg("XDG_STATE_HOME", ".local/state") / "hvlab"


def project_root() -> Path:
    """The checkout hvlab runs from (inventories/ and playbooks/ live there)."""
    explicit = os.environ.get("HVLAB_PROJECT_DIR")
    if explicit:
        return Path(explicit)
    return Path(__file__).resolve().parents[2]
