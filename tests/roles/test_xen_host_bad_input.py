"""xen_host rejects bad input before it changes anything, naming the variable.

Runs the real role with ansible-playbook against localhost in check mode: the
variable checks come before the host preflight (CPU flags, kernel config, OS
support), so they fail the same way on any controller, and check mode plus
failing first guarantee nothing on this machine changes.
"""

import re
import subprocess
from pathlib import Path

import pytest
from role_runner import run_role_check

FIRST_PREFLIGHT_TASK = "TASK [xen_host : Check the host is x86_64]"


def run_role(tmp_path: Path, variables: dict[str, object]) -> subprocess.CompletedProcess[str]:
    return run_role_check("xen_host", tmp_path, variables)


CASES = {
    "dom0_mem larger than the host": ({"xen_host_dom0_mem_mb": 64 * 1024 * 1024}, "xen_host_dom0_mem_mb"),
    "dom0_mem below 512 MiB": ({"xen_host_dom0_mem_mb": 256}, "xen_host_dom0_mem_mb"),
    "dom0_mem not a number": ({"xen_host_dom0_mem_mb": "1G"}, "xen_host_dom0_mem_mb"),
    "unknown scheduler": ({"xen_host_scheduler": "rtds"}, "xen_host_scheduler"),
    "more Dom0 vCPUs than host CPUs": ({"xen_host_dom0_max_vcpus": 4096}, "xen_host_dom0_max_vcpus"),
    "zero Dom0 vCPUs": ({"xen_host_dom0_max_vcpus": 0}, "xen_host_dom0_max_vcpus"),
    "extra arg with a double quote": ({"xen_host_extra_args": ['loglvl="all"']}, "xen_host_extra_args"),
    "extra arg with a single quote": ({"xen_host_extra_args": ["loglvl='all'"]}, "xen_host_extra_args"),
    "extra arg with a newline": ({"xen_host_extra_args": ["smap=0\nGRUB_DEFAULT=0"]}, "xen_host_extra_args"),
    "extra arg with a space": ({"xen_host_extra_args": ["smap=0 iommu=off"]}, "xen_host_extra_args"),
    "extra arg with a tab": ({"xen_host_extra_args": ["smap=0\tiommu=off"]}, "xen_host_extra_args"),
    "extra args not a list of words": ({"xen_host_extra_args": [{"smap": 0}]}, "xen_host_extra_args"),
    "Dom0 kernel arg with a quote": ({"xen_host_dom0_kernel_args": ['console="hvc0"']}, "xen_host_dom0_kernel_args"),
    # The drop-in is sourced as shell by update-grub: only an allow-list of characters passes.
    "extra arg with a command substitution": (
        {"xen_host_extra_args": ["$(touch${IFS}/root/x)"]}, "xen_host_extra_args"),
    "extra arg with a ;": ({"xen_host_extra_args": ["a;reboot"]}, "xen_host_extra_args"),
    "extra arg with a backtick": ({"xen_host_extra_args": ["`reboot`"]}, "xen_host_extra_args"),
    "extra arg with a variable": ({"xen_host_extra_args": ["x=$HOME"]}, "xen_host_extra_args"),
    "extra arg with a pipe": ({"xen_host_extra_args": ["a|reboot"]}, "xen_host_extra_args"),
    "extra arg with an &": ({"xen_host_extra_args": ["a&reboot"]}, "xen_host_extra_args"),
    "Dom0 kernel arg with a command substitution": (
        {"xen_host_dom0_kernel_args": ["$(touch${IFS}/root/x)"]}, "xen_host_dom0_kernel_args"),
    "Dom0 kernel arg with a ;": ({"xen_host_dom0_kernel_args": ["a;reboot"]}, "xen_host_dom0_kernel_args"),
    "Dom0 kernel arg with a non-ASCII letter": ({"xen_host_dom0_kernel_args": ["consol\u00e9=hvc0"]},
                                                "xen_host_dom0_kernel_args"),
    "bridge name over 15 chars": ({"xen_host_bridge_name": "xenbr-much-too-long"}, "xen_host_bridge_name"),
    "bridge address not CIDR": ({"xen_host_bridge_address": "10.0.100.1"}, "xen_host_bridge_address"),
    "console log not a bool": ({"xen_host_console_log": "sometimes"}, "xen_host_console_log"),
}


@pytest.mark.parametrize(("variables", "named"), CASES.values(), ids=CASES.keys())
def test_bad_input_is_rejected_naming_the_variable(tmp_path: Path, variables: dict[str, object], named: str) -> None:
    result = run_role(tmp_path, variables)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert named in out
    # rejected by validation, before any host preflight (this CI machine has no vmx/svm)
    assert FIRST_PREFLIGHT_TASK not in result.stdout
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout


def test_good_input_passes_validation(tmp_path: Path) -> None:
    """The same run with valid variables gets past validation (and fails later, on this host, or not at all)."""
    result = run_role(tmp_path, {"xen_host_dom0_mem_mb": 1024, "xen_host_extra_args": ["smap=0"],
                                 # every character of the allow-list: letters, digits, _ . , : = + / @ % -
                                 "xen_host_dom0_kernel_args": ["console=hvc0", "a_b.c,d:e=f+g/h@i%j-k"]})
    assert FIRST_PREFLIGHT_TASK in result.stdout or "Xen is not packaged" in result.stdout, result.stdout
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout
