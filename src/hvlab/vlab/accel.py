"""Choose QEMU acceleration: KVM only where it can run a stock kernel.

/dev/kvm alone proves nothing: on some hosts it is backed by kvm_pvm, which only
runs PVM-aware guest kernels, and a stock Debian kernel then crawls. Only the
hardware modules kvm_intel / kvm_amd give a usable KVM. TCG's `-cpu max` is an
AMD CPU with SVM and NPT, so nested KVM and Xen HVM still work inside.

Under TCG the CPU loses AVX and what depends on it (TCG_CPU_MODEL): QEMU 7.2's new AVX
emulation corrupts user programs in a Xen Dom0 as soon as a guest domain runs (sshd,
bash, xl and python segfault at random, SSH logins fail), and without AVX both stacks
still see the same CPU, so the comparison stays fair.
"""

import os
from dataclasses import dataclass
from pathlib import Path

HARDWARE_KVM_MODULES = ("kvm_intel", "kvm_amd")
TCG_CPU_MODEL = "max,-avx,-avx2,-fma,-f16c,-vaes,-vpclmulqdq"


@dataclass(frozen=True)
class Acceleration:
    name: str  # "kvm" or "tcg"
    reason: str

    def qemu_args(self) -> list[str]:
        if self.name == "kvm":
            return ["-accel", "kvm", "-cpu", "host"]
        return ["-accel", "tcg,thread=multi,tb-size=512", "-cpu", TCG_CPU_MODEL]


def choose_acceleration(
    dev_kvm: Path = Path("/dev/kvm"), sys_module: Path = Path("/sys/module")
) -> Acceleration:
    forced = os.environ.get("HVLAB_ACCEL")
    if forced in ("kvm", "tcg"):
        return Acceleration(forced, "forced by HVLAB_ACCEL")
    if not dev_kvm.exists():
        return Acceleration("tcg", "no /dev/kvm")
    if not os.access(dev_kvm, os.R_OK | os.W_OK):
        return Acceleration("tcg", "/dev/kvm is not accessible to this user")
    loaded = [m for m in HARDWARE_KVM_MODULES if (sys_module / m).exists()]
    if not loaded:
        return Acceleration("tcg", "/dev/kvm is not a kvm_intel/kvm_amd KVM")
    return Acceleration("kvm", f"{loaded[0]} loaded")
