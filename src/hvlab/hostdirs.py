"""Directories hvlab creates on a host: dedicated ones, never a system directory.

The roles name host directories in variables (guest_image_host_dir, kvm_host_pool_path,
guests_dir). Each must be a dedicated directory: an absolute path written the one normal way
(no `..`, `.`, `//` or trailing slash, so that what is checked is what the host resolves) and
not a directory of the system. This is the one list of refused system directories: every role
reads it through the `hvlab_host_dir_problem` filter (plugins/filter/hvlab_spec.py).

A directory that already exists is used as it is by the roles (no mode, no owner set): only
a directory the role creates gets hvlab's mode and owner.
"""

from __future__ import annotations

import posixpath
import re

# Directories of the system (FHS, Debian, Ubuntu, RHEL) and of the hypervisors' packages.
SYSTEM_DIRECTORIES: frozenset[str] = frozenset({
    "/", "/bin", "/boot", "/boot/efi", "/boot/grub", "/dev", "/etc", "/home", "/lib", "/lib32",
    "/lib64", "/libx32", "/lost+found", "/media", "/mnt", "/opt", "/proc", "/root", "/run",
    "/sbin", "/snap", "/srv", "/sys", "/tmp",
    "/usr", "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec",
    "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/local/sbin", "/usr/local/share",
    "/usr/sbin", "/usr/share", "/usr/src",
    "/var", "/var/backups", "/var/cache", "/var/lib", "/var/local", "/var/lock", "/var/log",
    "/var/mail", "/var/opt", "/var/run", "/var/spool", "/var/tmp", "/var/www", "/var/snap",
    "/var/lib/libvirt", "/var/lib/libvirt/images", "/var/lib/libvirt/boot", "/var/lib/xen",
    "/var/lib/xen/images", "/var/log/libvirt", "/var/log/xen", "/etc/xen", "/etc/libvirt",
})
# Kernel and device filesystems: nothing below them is a place for files.
PSEUDO_FILESYSTEMS: tuple[str, ...] = ("/proc", "/sys", "/dev")

_CHARACTERS = re.compile(r"/[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*\Z|/\Z")


def host_dir_problem(path: object) -> str:
    """"" when `path` may be a directory hvlab creates on a host, else why not (one phrase)."""
    if not isinstance(path, str) or not path.startswith("/"):
        return f"{path!r} is not an absolute path"
    if not _CHARACTERS.match(path) or "//" in path:
        return (f"{path!r} must be written as /dir/dir: letters, digits and _ . + - between single "
                "slashes, no trailing slash")
    if posixpath.normpath(path) != path or any(part in (".", "..") for part in path.split("/")):
        return f"{path!r} is not a normalised path (no '.' or '..' components)"
    if path in SYSTEM_DIRECTORIES:
        return (f"{path} is a system directory: hvlab needs a dedicated directory of its own "
                "(e.g. under /var/lib/hvlab)")
    if any(path.startswith(top + "/") for top in PSEUDO_FILESYSTEMS):
        return f"{path} lies in a kernel filesystem ({path.split('/')[1]})"
    return ""
