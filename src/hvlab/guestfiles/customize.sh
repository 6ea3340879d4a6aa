#!/bin/sh
# mmdebstrap customize hook: turns the bootstrapped tree "$1" into hvlab's guest
# image. Guests boot its kernel directly (libvirt <kernel>, xl kernel=), so the
# disk is one ext4 filesystem without partition table or bootloader; the same
# bytes boot on KVM (virtio) and on Xen (blkfront/netfront, PV, PVH or HVM).
# Identity (hostname, SSH key, address) comes from cloud-init's NoCloud seed.
set -eu
root="$1"
files="$HVLAB_GUEST_FILES"

printf 'LABEL=hvlab-guest / ext4 errors=remount-ro 0 1\n' > "$root/etc/fstab"
echo localhost > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n' > "$root/etc/hosts"
printf 'recipe=%s\n' "$HVLAB_RECIPE_ID" > "$root/etc/hvlab-guest-image"

install -d "$root/etc/cloud/cloud.cfg.d" "$root/var/log/journal"
install -m 0644 "$files/90-hvlab.cfg" "$root/etc/cloud/cloud.cfg.d/90-hvlab.cfg"
install -m 0644 "$files/sshd-hvlab.conf" "$root/etc/ssh/sshd_config.d/hvlab.conf"
chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
# Nothing in the guest competes with the workloads for the disk or the CPU.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer fstrim.timer \
    e2scrub_all.timer iperf3.service >/dev/null 2>&1 || true

# cloud-init makes every guest's host keys on its first boot; no password exists.
rm -f "$root"/etc/ssh/ssh_host_*
chroot "$root" passwd -l root >/dev/null
# The directly booted kernel and initramfs, exported beside the disk.
kernel=$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -n 1)
initrd=$(cd "$root/boot" && ls initrd.img-* | sort -V | tail -n 1)
ln -sf "$kernel" "$root/boot/hvlab-vmlinuz"
ln -sf "$initrd" "$root/boot/hvlab-initrd.img"
