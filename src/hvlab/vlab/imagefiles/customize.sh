#!/bin/sh
# mmdebstrap customize hook: turns the bootstrapped tree "$1" into a lab machine
# that boots from a plain BIOS disk without grub-install having run on the host.
# Inputs (environment): HVLAB_ROOT_UUID, HVLAB_IMAGE_FILES, HVLAB_RECIPE_ID.
set -eu
root="$1"
files="$HVLAB_IMAGE_FILES"

# The fstab UUID must equal the one mkfs.ext4 gets, or / stays read-only.
printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$HVLAB_ROOT_UUID" > "$root/etc/fstab"
echo hvlab > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\thvlab\n' > "$root/etc/hosts"
printf 'recipe=%s\n' "$HVLAB_RECIPE_ID" > "$root/etc/hvlab-image"

install -d "$root/etc/systemd/network" "$root/var/log/journal" "$root/etc/default/grub.d"
install -m 0644 "$files/20-hvlab-dhcp.network" "$root/etc/systemd/network/20-hvlab-dhcp.network"
install -m 0644 "$files/10-hvlab-serial.cfg" "$root/etc/default/grub.d/10-hvlab-serial.cfg"
install -m 0755 "$files/hvlab-identity" "$root/usr/local/sbin/hvlab-identity"
install -m 0755 "$files/hvlab-firstboot" "$root/usr/local/sbin/hvlab-firstboot"
install -m 0644 "$files/hvlab-identity.service" "$root/etc/systemd/system/hvlab-identity.service"
install -m 0644 "$files/hvlab-firstboot.service" "$root/etc/systemd/system/hvlab-firstboot.service"
chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service \
    hvlab-identity.service hvlab-firstboot.service
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# Every machine made from this image must get its own SSH host keys (hvlab-identity).
rm -f "$root"/etc/ssh/ssh_host_*

# Bootstrap GRUB by hand: modules where core.img looks for them, a core.img that
# the builder writes after the MBR, and a minimal grub.cfg. hvlab-firstboot then
# runs grub-install and update-grub, leaving a normal Debian GRUB install.
install -d "$root/boot/grub/i386-pc"
cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst "$root/boot/grub/i386-pc/"
chroot "$root" grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -o /boot/grub/hvlab-core.img \
    -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2
cp "$root/usr/lib/grub/i386-pc/boot.img" "$root/boot/grub/hvlab-boot.img"
kernel=$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -n 1)
initrd=$(cd "$root/boot" && ls initrd.img-* | sort -V | tail -n 1)
cat > "$root/boot/grub/grub.cfg" <<CFG
serial --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
menuentry 'hvlab bootstrap' {
  linux /boot/$kernel root=UUID=$HVLAB_ROOT_UUID ro console=ttyS0,115200n8
  initrd /boot/$initrd
}
CFG
