"""Host tool and disk-space checks name what to install or free."""

from collections.abc import Callable
from pathlib import Path

import pytest

from hvlab.errors import HvlabError
from hvlab.vlab import hostcheck
from hvlab.vlab.hostcheck import IMAGE_TOOLS, MACHINE_TOOLS, require_free_space, require_tools


def which_without(*absent: str) -> Callable[[str], str | None]:
    """A shutil.which that finds every command except `absent`."""

    def which(cmd: str) -> str | None:
        return None if cmd in absent else f"/usr/bin/{cmd}"
    return which


def test_all_tools_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostcheck.shutil, "which", which_without())
    require_tools(IMAGE_TOOLS)
    require_tools(MACHINE_TOOLS)


def test_missing_command_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostcheck.shutil, "which", which_without("mkfs.ext4"))
    with pytest.raises(HvlabError) as exc:
        require_tools(IMAGE_TOOLS)
    message = str(exc.value)
    assert message.endswith("apt-get install e2fsprogs")
    assert "mkfs.ext4" not in message.split("apt-get install")[1]


def test_missing_commands_list_each_package_once_sorted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostcheck.shutil, "which", which_without("ssh", "ssh-keygen", "qemu-system-x86_64"))
    with pytest.raises(HvlabError, match=r"apt-get install openssh-client qemu-system-x86$"):
        require_tools(MACHINE_TOOLS)


def test_free_space_enough(tmp_path: Path) -> None:
    require_free_space(tmp_path, 1, "a test")


def test_free_space_huge_requirement_names_mib(tmp_path: Path) -> None:
    target = tmp_path / "not" / "yet" / "created"  # walks up to an existing directory
    with pytest.raises(HvlabError) as exc:
        require_free_space(target, 2**60, "the lab image build")
    message = str(exc.value)
    assert f"{2**60 // 2**20} MiB needed" in message
    assert "MiB free" in message
    assert "the lab image build" in message
    assert str(target) in message
    assert not target.exists()
