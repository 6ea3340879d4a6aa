"""Choose QEMU acceleration: KVM only where it can run a stock kernel.

/dev/kvm alone proves nothing: on some hosts it is backed by kvm_pvm, which only
runs PVM-aware guest kernels, and a stock Debian kernel then crawls. Only the
hardware modules kvm_intel / kvm_amd give a usable KVM. TCG's `-cpu max` is an
AMD CPU with SVM and NPT, so nested KVM and Xen HVM still work inside.

A Xen machine under TCG gets a CPU without AVX (TCG_XEN_CPU_MODEL): with AVX its Dom0
and guests crashed at random once a guest ran (Xen also needs spec-ctrl=eager-fpu there,
see roles/xen_host, xen_host_tcg_workarounds); that combination is the one measured to work. KVM machines keep
plain `-cpu max`, under which nested KVM guests were measured to work.
"""

import os
from dataclasses import dataclass
from pathlib import Path

HARDWARE_KVM_MODULES = ("kvm_intel", "kvm_amd")
TCG_XEN_CPU_MODEL = "max,-avx,-avx2,-fma,-f16c,-vaes,-vpclmulqdq"


@dataclass(frozen=True)
class Acceleration:
    name: str  # "kvm" or "tcg"
    reason: str

    def qemu_args(self, runs_xen: bool = False) -> list[str]:
        if self.name == "kvm":
            return ["-accel", "kvm", "-cpu", "host"]
        if runs_xen:
            return ["-accel", "tcg,thread=single,tb-size=512", "-cpu", TCG_XEN_CPU_MODEL]
        return ["-accel", "tcg,thread=multi,tb-size=512", "-cpu", "max"]


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
