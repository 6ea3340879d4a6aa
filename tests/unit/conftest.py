"""Shared fixtures for hvlab's unit tests.

Every test runs against throw-away lab state: HVLAB_STATE_DIR, HVLAB_CACHE_DIR and
HVLAB_PROJECT_DIR point into tmp_path, and acceleration/mirror overrides from the
caller's shell are removed. A guard on subprocess.run makes any attempt to launch
QEMU, SSH or an image-building tool fail loudly: unit tests never touch real lab
machines (another lab may be running on 127.0.0.1:2221/2222).
"""

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_COMMANDS = frozenset(
    {"qemu-system-x86_64", "qemu-img", "ssh", "mmdebstrap", "parted", "mkfs.ext4"}
)


@dataclass(frozen=True)
class LabDirs:
    state: Path
    cache: Path
    project: Path


class ForbiddenCommand(AssertionError):
    """A unit test tried to run a command that would touch real machines or images."""


@pytest.fixture(autouse=True)
def lab_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LabDirs]:
    dirs = LabDirs(tmp_path / "state", tmp_path / "cache", tmp_path / "project")
    monkeypatch.setenv("HVLAB_STATE_DIR", str(dirs.state))
    monkeypatch.setenv("HVLAB_CACHE_DIR", str(dirs.cache))
    monkeypatch.setenv("HVLAB_PROJECT_DIR", str(dirs.project))
    # hvlab's Python reads the roles' own defaults and vars from the project (the guest image's
    # release, the guests role's settings): the test project has the checkout's roles.
    dirs.project.mkdir()
    (dirs.project / "roles").symlink_to(REPO_ROOT / "roles")
    for var in ("HVLAB_ACCEL", "HVLAB_DEBIAN_MIRROR"):
        monkeypatch.delenv(var, raising=False)

    real_run = subprocess.run

    def guarded_run(cmd: object, *args: object, **kwargs: object) -> object:
        argv0 = cmd[0] if isinstance(cmd, list | tuple) and cmd else cmd
        if os.path.basename(str(argv0)) in FORBIDDEN_COMMANDS:
            raise ForbiddenCommand(f"unit tests must not run {argv0}: {cmd!r}")
        return real_run(cmd, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", guarded_run)
    yield dirs
