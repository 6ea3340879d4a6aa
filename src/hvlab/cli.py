"""The `hvlab` command: the virtual lab, its image, and the report.

Every HvlabError becomes one line on stderr and exit code 1, never a traceback.
"""

import os
import sys
import time
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.text import Text

from hvlab import __version__, cloud_standin, guest_console, guest_image, labhosts, pipeline, results_guard
from hvlab.errors import HvlabError
from hvlab.netspec import DHCP, parse_networks
from hvlab.report.write import Written, write_report
from hvlab.spec import parse_guests
from hvlab.vlab import image as lab_image
from hvlab.vlab import inventory
from hvlab.vlab.machines import LAB, Boot, machines, spec_for, status_json
from hvlab.vlab.releases import FIRMWARES, IMAGE_KINDS, RELEASES, STACKS, LabTarget

console = Console(stderr=True)


class HvlabGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except HvlabError as exc:
            # Text, not markup: the message may hold user input such as "[x]".
            console.print(Text("hvlab: ", style="bold red") + Text(str(exc)), soft_wrap=True, highlight=False)
            sys.exit(1)


def _progress(message: str) -> None:
    console.print(Text("• ", style="cyan") + Text(message), soft_wrap=True, highlight=False)


# --release / --firmware: click refuses any other value, naming the accepted ones,
# before anything is built or booted.
RELEASE_OPTION = click.option(
    "--release", type=click.Choice(list(RELEASES)), default=None,
    help="Debian release of the lab machines (default: hvlab_vlab_release in inventories/vlab, else 13).")
FIRMWARE_OPTION = click.option(
    "--firmware", type=click.Choice(list(FIRMWARES)), default=None,
    help="How new lab machines boot (default: hvlab_vlab_firmware in inventories/vlab, else uefi).")
IMAGE_OPTION = click.option(
    "--image", "image_kind", type=click.Choice(list(IMAGE_KINDS)), default=None,
    help="prepared: each machine's stack's host packages already installed; bare: a fresh Debian "
         "(default: hvlab_vlab_image in inventories/vlab, else prepared).")


def _names(names: tuple[str, ...]) -> list[str]:
    for name in names:
        spec_for(name)  # fail on an unknown name before anything starts
    return list(names) or list(LAB)


@click.group(cls=HvlabGroup)
@click.version_option(__version__)
def main() -> None:
    """hvlab: identical guests on KVM and Xen, compared."""


@main.command("up")
@click.option("-i", "--inventory", "inventory_path", type=click.Path(exists=True, path_type=Path),
              help="A real lab's inventory; default: the built-in virtual lab, booted if needed.")
@click.option("--profile", type=click.Choice(["quick", "full"]), default=None,
              help="Workload sizes: quick (default on the virtual lab) or full (default on a real lab).")
@click.option("--repeats", type=click.IntRange(min=1), default=None,
              help="Runs of each workload per guest (default: the compare role's, 5).")
@click.option("--boot-repeats", type=click.IntRange(min=0), default=None,
              help="Timed boots per stack, the deployment's and then throwaway guests' "
                   "(compare_boot_repeats; default: 1 on quick, 3 on full).")
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where results and the report go: a new or empty directory, or an earlier one of hvlab's "
                   "with --replace-results; default: results/<UTC time> in the project.")
@click.option("--replace-results", is_flag=True,
              help="Replace the comparison already in the --results directory (compare_replace_results).")
def up(inventory_path: Path | None, profile: str | None, repeats: int | None, boot_repeats: int | None,
       results_dir: Path | None, replace_results: bool) -> None:
    """The main job: hosts, guest image, identical guests, the comparison, the claims, the report.

    Runs playbooks/site.yml, playbooks/compare.yml and playbooks/claims.yml in one
    ansible-playbook run, showing each stage with its duration, then writes the report and
    prints its path.
    """
    results = (results_dir or pipeline.results_dir_for()).resolve()
    # Before the lab starts: the log, the compare role and the report all write there.
    refused = results_guard.refusal(results, replace=replace_results, option="--results",
                                    replace_option="--replace-results")
    if refused:
        raise HvlabError(refused)
    if inventory_path is None:
        # The guest image first, so each machine boots with it on a read-only disk and the
        # playbooks' guest_image role extracts it there instead of copying it over SSH.
        _vlab_up(list(LAB), guest_image_disk=True)
        inventory_path = inventory.inventory_path().parent
        profile = profile or "quick"
    extra: dict[str, object] = {"compare_profile": profile or "full"}
    if repeats is not None:
        extra["compare_repeats"] = repeats
    if boot_repeats is not None:
        extra["compare_boot_repeats"] = boot_repeats
    extra["compare_replace_results"] = replace_results
    started = time.monotonic()
    try:
        stages = pipeline.run(inventory_path, results, extra, _progress)
    except HvlabError:
        # What was measured before the failure is still worth a look: a partial report.
        if (results / "lab.json").exists():
            _progress("the playbooks failed; a report of what was recorded so far:")
            _say_report(write_report(results, results))
        raise
    written = write_report(results, results)
    _progress(f"done in {time.monotonic() - started:.0f} s over {len(stages)} stages; report:")
    _say_report(written)


@main.command("claims")
@click.option("-i", "--inventory", "inventory_path", type=click.Path(exists=True, path_type=Path),
              help="A real lab's inventory; default: the built-in virtual lab, which must be up.")
@click.option("--results", "results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="The comparison the claims join (a results directory of hvlab up); "
                                 "default: the newest in results/.")
def claims(inventory_path: Path | None, results_dir: Path | None) -> None:
    """Run the live claims experiments on a lab whose guests are up, then rewrite the report.

    Runs playbooks/guests.yml (which finds the guests in place) and playbooks/claims.yml; the
    records go to the comparison's claims/ directory, the log to its claims.log.
    """
    results = (results_dir or pipeline.latest_comparison()).resolve()
    if not results_guard.holds_comparison(results):
        raise HvlabError(f"--results {results} holds no comparison of hvlab's (no lab.json of hvlab's): "
                         "name a results directory of hvlab up")
    if inventory_path is None:
        down = [m.spec.name for m in machines(list(LAB)) if m.pid() is None]
        if down:
            raise HvlabError(f"the virtual lab is not up ({', '.join(down)} stopped): run hvlab up first")
        inventory_path = inventory.inventory_path().parent
    started = time.monotonic()
    pipeline.run_claims(inventory_path, results, _progress)
    _progress(f"claims done in {time.monotonic() - started:.0f} s; report:")
    _say_report(write_report(results, results))


def _say_report(written: Written) -> None:
    """Every input problem and warning on stderr, then the report's path on stdout."""
    for problem in written.problems:
        console.print(Text("problem: ", style="bold red") + Text(problem), soft_wrap=True, highlight=False)
    for warning in written.warnings:
        console.print(Text("warning: ", style="yellow") + Text(warning), soft_wrap=True, highlight=False)
    click.echo(written.html)


@main.command("down")
@click.option("-i", "--inventory", "inventory_path", type=click.Path(exists=True, path_type=Path),
              help="A real lab's inventory: remove hvlab's guests there (playbooks/teardown.yml).")
def down(inventory_path: Path | None) -> None:
    """Tear the lab down.

    The virtual lab: stop every lab machine and remove its disk. A real lab (-i): remove the
    guests hvlab created and their disks; the hosts stay as they are, and so does every
    domain hvlab did not create.
    """
    if inventory_path is not None:
        pipeline.teardown(inventory_path, _progress)
        return
    for machine in machines(list(LAB)):
        machine.destroy(progress=_progress)


CONSOLE_INVENTORY_OPTION = click.option(
    "-i", "--inventory", "inventory_path", type=click.Path(exists=True, path_type=Path),
    help="A real lab's inventory; default: the virtual lab's (inventories/vlab, written by hvlab vlab up).")
CONSOLE_HOST_OPTION = click.option(
    "--host", "host_name", default=None, help="The lab host (inventory name) whose copy of the guest to use.")


def _guest_hosts(guest: str, inventory_path: Path | None) -> tuple[list[labhosts.LabHost], str]:
    """The hosts that run the guest and how messages name the inventory; the name is checked first."""
    guest_console.check_guest_name(guest)
    path = inventory_path or labhosts.vlab_inventory()
    return guest_console.hosts_running(guest, labhosts.load(path), str(path)), str(path)


@main.command("console")
@click.argument("guest")
@CONSOLE_HOST_OPTION
@CONSOLE_INVENTORY_OPTION
def console_attach(guest: str, host_name: str | None, inventory_path: Path | None) -> None:
    """Attach to a guest's serial console on its host (virsh console / xl console over ssh -t).

    Every guest runs on each KVM and Xen host, so --host names the one to use unless only one
    host runs it. Leave the console with Ctrl-]. A console someone has open is not taken over.
    """
    running, _where = _guest_hosts(guest, inventory_path)
    host = guest_console.one_host(guest, running, host_name)
    argv = guest_console.attach_command(guest, host)
    _progress(f"{guest} on {host.describe()}; leave the console with Ctrl-]")
    os.execvp(argv[0], argv)


@main.command("console-log")
@click.argument("guest")
@CONSOLE_HOST_OPTION
@CONSOLE_INVENTORY_OPTION
@click.option("-n", "--lines", type=click.IntRange(min=1), default=40, show_default=True)
def console_log(guest: str, host_name: str | None, inventory_path: Path | None, lines: int) -> None:
    """Print the tail of a guest's console log on its host, or on every host that runs it."""
    running, where = _guest_hosts(guest, inventory_path)
    chosen = guest_console.pick(guest, running, host_name)
    problems = guest_console.tail_logs(guest, chosen, lines, where, lambda text: click.echo(text, nl=False))
    if problems:
        raise HvlabError("; ".join(problems))


@main.group(cls=HvlabGroup)
def spec() -> None:
    """The guest spec (hvlab_guests) shared by every host."""


@spec.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def spec_check(path: Path) -> None:
    """Validate the hvlab_guests list (and hvlab_networks, which their nics name) in a YAML vars
    file (e.g. group_vars/all.yml)."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise HvlabError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "hvlab_guests" not in data:
        raise HvlabError(f"{path}: no hvlab_guests list at the top level")
    networks = parse_networks(data.get("hvlab_networks"))
    for guest in parse_guests(data["hvlab_guests"], networks):
        nics = "".join(f", {nic.ifname} {nic.network} {nic.address or DHCP}" for nic in guest.nics or ())
        click.echo(f"{guest.name}: {guest.vcpus} vCPU, {guest.memory_mib} MiB, {guest.disk_gib} GiB, "
                   f"xen {guest.xen_type}{nics}")


@main.command("report")
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the report files; default: RESULTS_DIR.")
def report(results_dir: Path, out_dir: Path | None) -> None:
    """Compare KVM and Xen from a results dir: report.html, report.md, runs.csv, summary.json.

    Prints the path of report.html; every input problem and every figure without an interval
    is also said on stderr, so a script sees them without opening the report.
    """
    _say_report(write_report(results_dir, out_dir or results_dir))


@main.group(cls=HvlabGroup)
def image() -> None:
    """The lab machines' image and the guest image."""


@image.command("build")
@click.option("--force", is_flag=True, help="Rebuild even if a verified image for this recipe is cached.")
@click.option("--guest", is_flag=True,
              help="Build the guest image (disk, kernel, initramfs for KVM and Xen guests) instead.")
@click.option("--stack", type=click.Choice(list(STACKS)), default=None,
              help="A lab image prepared for this stack (its host packages installed); default: bare.")
@RELEASE_OPTION
@FIRMWARE_OPTION
def image_build(force: bool, guest: bool, stack: str | None, release: str | None, firmware: str | None) -> None:
    """Build (or reuse) the cached lab image, or with --guest the guest image; print its path."""
    default = inventory.default_boot()
    if guest:
        if firmware is not None or stack is not None:
            raise HvlabError("--firmware and --stack are for lab images; the guest image boots its kernel directly")
        with console.status("building the guest image"):
            built_guest = guest_image.build(release or default.release, force=force, progress=_progress)
        click.echo(built_guest.directory)
        return
    target = LabTarget.for_machine(release or default.release, firmware or default.firmware, stack or "")
    with console.status("building the lab image"):
        built = lab_image.build(target, force=force, progress=_progress)
    click.echo(built.path)


@image.command("standin")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for the stand-in qcow2 and its SHA512SUMS (made if missing).")
@RELEASE_OPTION
def image_standin(out_dir: Path, release: str | None) -> None:
    """Make a whole-disk cloud-image stand-in (partition table, GRUB, cloud-init) from the guest image.

    It has the shape of Debian's genericcloud image, for testing the `url` source and
    booting through the disk's own bootloader without internet; prints the qcow2's path.
    """
    with console.status("building the guest image"):
        built_guest = guest_image.build(release or inventory.default_boot().release, progress=_progress)
    with console.status("making the cloud-image stand-in"):
        standin = cloud_standin.build(built_guest, out_dir, progress=_progress)
    click.echo(standin)


@main.group(cls=HvlabGroup)
def vlab() -> None:
    """The built-in virtual lab (QEMU machines on localhost)."""


@vlab.command("up")
@click.argument("names", nargs=-1)
@click.option("--inventory/--no-inventory", "write_inventory", default=True, show_default=True,
              help="Write inventories/vlab/hosts.yml (molecule, which keeps its own, says --no-inventory).")
@RELEASE_OPTION
@FIRMWARE_OPTION
@IMAGE_OPTION
@click.option("--guest-image", "guest_image_disk", is_flag=True,
              help="Build the guest image if needed (release: guest_image_release in inventories/vlab, else 13; "
                   "needs root) and attach it to each machine booted as a read-only disk "
                   "(/dev/disk/by-id/virtio-hvlab-guest-image), which the guest_image role extracts "
                   "instead of copying the image over SSH.")
@click.option("--build-only", is_flag=True,
              help="Build the images these machines would boot, new as asked, and boot nothing "
                   "(the test script builds every scenario's images before its lanes boot machines at once).")
def vlab_up(names: tuple[str, ...], write_inventory: bool, release: str | None, firmware: str | None,
            image_kind: str | None, guest_image_disk: bool, build_only: bool) -> None:
    """Build the image if needed, start lab machines (all by default), write the inventory.

    A machine whose disk exists boots as it was made; asking it for another release or
    firmware is refused (hvlab vlab down NAME first).
    """
    _vlab_up(_names(names), write_inventory, release, firmware, image_kind, guest_image_disk, build_only)


def _vlab_up(names: list[str], write_inventory: bool = True, release: str | None = None,
             firmware: str | None = None, image_kind: str | None = None, guest_image_disk: bool = False,
             build_only: bool = False) -> None:
    selected = machines(names)
    default = inventory.default_boot()
    # Every machine's boot (and the guest image's release) is checked before anything is built or booted.
    # With build_only, the images of new machines as asked: an existing disk is not read.
    boots = [Boot.asked(release, firmware, image_kind, default) if build_only
             else machine.boot_for(release, firmware, image_kind, default) for machine in selected]
    guest_release = inventory.guest_image_release() if guest_image_disk else None
    for target in dict.fromkeys(boot.target(m.spec.stack) for m, boot in zip(selected, boots, strict=True)):
        with console.status("preparing the lab image"):
            lab_image.build(target, progress=_progress)
    guest_disk: Path | None = None
    if guest_release is not None:
        with console.status("preparing the guest image"):
            built_guest = guest_image.build(guest_release, progress=_progress)
            guest_disk = guest_image.disk_tar(built_guest, progress=_progress)
    if build_only:
        return
    for machine, boot in zip(selected, boots, strict=True):
        with console.status(f"booting {machine.spec.name}"):
            machine.start(boot, progress=_progress, guest_disk=guest_disk)
    if write_inventory:
        _progress(f"inventory: {inventory.write()}")


@vlab.command("down")
@click.argument("names", nargs=-1)
@click.option("--keep-disks", is_flag=True, help="Only stop the machines; keep their disks for the next up.")
def vlab_down(names: tuple[str, ...], keep_disks: bool) -> None:
    """Stop lab machines (all by default) and remove their disks."""
    for machine in machines(_names(names)):
        if keep_disks:
            machine.stop(progress=_progress)
        else:
            machine.destroy(progress=_progress)


@vlab.command("status")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def vlab_status(names: tuple[str, ...], as_json: bool) -> None:
    """Show each lab machine's state, port and acceleration."""
    if as_json:
        click.echo(status_json(_names(names)))
        return
    for machine in machines(_names(names)):
        st = machine.status()
        boot = f"debian-{st['release']} {st['firmware']} {st['image']}" if st["release"] else "-"
        click.echo(f"{st['name']:6} {st['state']:8} ssh 127.0.0.1:{st['port']}  {st['accel']}  {boot}  "
                   f"pid {st['pid'] or '-'}")


@vlab.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def vlab_ssh(name: str, command: tuple[str, ...]) -> None:
    """Open a shell on a lab machine, or run COMMAND there."""
    machine = machines([name])[0]
    if machine.pid() is None:
        raise HvlabError(f"{name} is not running; run: hvlab vlab up {name}")
    argv = machine.ssh_command(list(command))
    os.execvp(argv[0], argv)


@vlab.command("console-log")
@click.argument("name")
@click.option("-n", "--lines", default=40, show_default=True)
def vlab_console_log(name: str, lines: int) -> None:
    """Print the last lines of a lab machine's serial console."""
    click.echo(machines([name])[0].serial_tail(lines))
