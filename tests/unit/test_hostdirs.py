"""hvlab.hostdirs: the one list of system directories, and what makes a dedicated directory."""

import pytest

from hvlab.hostdirs import SYSTEM_DIRECTORIES, host_dir_problem


@pytest.mark.parametrize("path", ["/var/lib/hvlab/guests", "/var/lib/hvlab", "/srv/hvlab/images",
                                  "/tmp/pytest-of-root/x", "/home/alice/hvlab", "/data/lab-1_a.b+c"])
def test_dedicated_directories_pass(path: str) -> None:
    assert host_dir_problem(path) == ""


@pytest.mark.parametrize("path", ["/", "/tmp", "/var/tmp", "/home", "/root", "/etc", "/boot", "/usr",
                                  "/var", "/var/lib", "/opt", "/srv", "/dev", "/proc", "/sys", "/run",
                                  "/var/lib/libvirt/images"])
def test_system_directories_are_refused(path: str) -> None:
    assert path in SYSTEM_DIRECTORIES
    assert host_dir_problem(path) == f"{path} is a system directory: hvlab needs a dedicated directory of its own " \
                                     "(e.g. under /var/lib/hvlab)"


@pytest.mark.parametrize("path", ["/var/lib/hvlab/../../etc", "/var/lib/./hvlab", "/var//lib/hvlab",
                                  "//var/lib/hvlab", "/var/lib/hvlab/", "var/lib/hvlab", "", "/var/lib/hvlab\n",
                                  "/var/lib/my dir", "/var/lib/$(reboot)", "/..", "/.", "~/hvlab"])
def test_paths_not_written_the_one_normal_way_are_refused(path: str) -> None:
    assert host_dir_problem(path) != ""


@pytest.mark.parametrize("path", ["/proc/hvlab", "/sys/fs/hvlab", "/dev/shm/hvlab"])
def test_kernel_filesystems_are_refused(path: str) -> None:
    assert "kernel filesystem" in host_dir_problem(path)


@pytest.mark.parametrize("value", [None, 3, ["/var/lib/hvlab"]])
def test_non_strings_are_refused(value: object) -> None:
    assert "not an absolute path" in host_dir_problem(value)
