#!/bin/sh
# mmdebstrap customize hook: turns the bootstrapped tree "$1" into a lab machine
# that boots from a BIOS disk or (HVLAB_BOOT=uefi) through UEFI, without grub-install
# having run on the host.
# Inputs (environment): HVLAB_ROOT_UUID, HVLAB_IMAGE_FILES, HVLAB_RECIPE_ID, HVLAB_BOOT
# (bios|uefi), HVLAB_ESP_UUID (the FAT volume id the builder gives the ESP).
set -eu
root="$1"
files="$HVLAB_IMAGE_FILES"

# The fstab UUID must equal the one mkfs.ext4 gets, or / stays read-only.
printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$HVLAB_ROOT_UUID" > "$root/etc/fstab"
if [ "$HVLAB_BOOT" = uefi ]; then
    # systemd waits 90 s for the ESP's device unit, then drops to emergency mode, where
    # a machine with a locked root account hangs. Two TCG machines booting at once on
    # two cores can take longer than that through udev's coldplug (both of a CI run's
    # machines ended in emergency mode, still loading modules 260 s into the boot).
    printf 'UUID=%s /boot/efi vfat umask=0077,x-systemd.device-timeout=10min 0 2\n' \
        "$HVLAB_ESP_UUID" >> "$root/etc/fstab"
fi
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

kernel=$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -n 1)
initrd=$(cd "$root/boot" && ls initrd.img-* | sort -V | tail -n 1)

# Bootstrap GRUB by hand; hvlab-firstboot then runs grub-install and update-grub,
# leaving a normal Debian GRUB install.
if [ "$HVLAB_BOOT" = uefi ]; then
    # The ESP's content is staged in /boot/efi; the builder moves it into the FAT
    # partition. Debian's signed shim and GRUB at the removable-media path boot with
    # Secure Boot on or off; the signed GRUB reads grub.cfg beside it (and in
    # EFI/debian), a stub that finds the root filesystem and its /boot/grub/grub.cfg,
    # as grub-install's own stub does.
    esp="$root/boot/efi"
    install -d "$esp/EFI/BOOT" "$esp/EFI/debian"
    cp "$root/usr/lib/shim/shimx64.efi.signed" "$esp/EFI/BOOT/BOOTX64.EFI"
    cp "$root/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$esp/EFI/BOOT/grubx64.efi"
    if [ -e "$root/usr/lib/shim/mmx64.efi.signed" ]; then
        cp "$root/usr/lib/shim/mmx64.efi.signed" "$esp/EFI/BOOT/mmx64.efi"
    fi
    for dir in BOOT debian; do
        cat > "$esp/EFI/$dir/grub.cfg" <<CFG
search.fs_uuid $HVLAB_ROOT_UUID root
set prefix=(\$root)'/boot/grub'
configfile \$prefix/grub.cfg
CFG
    done
    install -d "$root/boot/grub"
else
    install -d "$root/boot/grub/i386-pc"
    cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst "$root/boot/grub/i386-pc/"
    chroot "$root" grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -o /boot/grub/hvlab-core.img \
        -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2
    cp "$root/usr/lib/grub/i386-pc/boot.img" "$root/boot/grub/hvlab-boot.img"
fi
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
