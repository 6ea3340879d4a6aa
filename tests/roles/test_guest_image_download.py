"""guest_image's url source, downloaded for real from an HTTP server on 127.0.0.1.

A stand-in whole-disk image (an MBR-partitioned disk, as qcow2, raw or raw .xz) is served with
a checksum file (SHA512SUMS as Debian publishes, SHA256SUMS with `*name` lines as Ubuntu does).
The role runs in check mode: its controller steps (download, checksum, decompression,
conversion) run for real into tmp_path, its host steps only predict.
"""

import hashlib
import http.server
import json
import lzma
import re
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from role_runner import run_role_check

FIRST_HOST_TASK = "TASK [guest_image : Create the image directory on the host]"
DOWNLOAD = "Download the guest image and verify its published checksum"
DOWNLOAD_TASK = f"TASK [guest_image : {DOWNLOAD}]"
CONVERT = "Convert the raw image to qcow2 (guests are qcow2 linked clones of it)"
COPY = "Copy the image files the host lacks or holds with other bytes"
# What the role recorded, written by a task after it (check mode writes nothing else).
RECORDED = ("guest_image_sha256", "guest_image_published_checksum", "guest_image_published_digest",
            "guest_image_source_format", "guest_image_path")


class Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves a directory without logging each request to the test's stderr."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on 127.0.0.1 (a free port), and its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def whole_disk(path: Path) -> Path:
    """A raw 4 MiB disk with an MBR and one Linux partition: a cloud image's layout in small."""
    disk = bytearray(4 << 20)
    disk[446:462] = bytes([0x80, 0, 0, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little") + (6144).to_bytes(4, "little")
    disk[510:512] = b"\x55\xaa"
    disk[2048 * 512:2048 * 512 + 17] = b"hvlab stand-in fs"
    path.write_bytes(bytes(disk))
    return path


def qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout


def image_format(path: Path) -> str:
    return json.loads(qemu_img("info", "--output=json", str(path)))["format"]


def publish(root: Path, name: str, kind: str) -> Path:
    """The image `name` in the served directory: a qcow2, a raw disk, or a raw disk as .xz."""
    raw = whole_disk(root.parent / "disk.raw")
    target = root / name
    if kind == "qcow2":
        qemu_img("convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(target))
    elif kind == "raw":
        target.write_bytes(raw.read_bytes())
    else:
        target.write_bytes(lzma.compress(raw.read_bytes(), format=lzma.FORMAT_XZ))
    return target


def sums_file(root: Path, sums: str, image: Path, algorithm: str, *, star: bool = False,
              digest: str | None = None) -> None:
    """SHA512SUMS/SHA256SUMS as the distributions publish them: other images listed around ours."""
    other = hashlib.new(algorithm, b"other").hexdigest()
    ours = digest or hashlib.new(algorithm, image.read_bytes()).hexdigest()
    mark = "*" if star else " "
    (root / sums).write_text(f"{other} {mark}other-{image.name}\n{ours} {mark}{image.name}\n{other} {mark}x.json\n")


def run(tmp_path: Path, url: str, checksum: str, **extra: object) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Apply the role with the url source; returns the run and the file of what it recorded."""
    record = tmp_path / "record.json"
    write_record = {
        "name": "Write what the role recorded",
        "ansible.builtin.copy": {
            "dest": str(record), "mode": "0600",
            "content": "{{ {" + ", ".join(f"'{n}': {n}" for n in RECORDED)
                       + ", 'disk': __guest_image_local.disk} | to_json }}",
        },
        "check_mode": False,
    }
    variables = {"guest_image_source": "url", "guest_image_url": url, "guest_image_checksum": checksum,
                 "guest_image_download_dir": str(tmp_path / "downloads"),
                 "guest_image_host_dir": str(tmp_path / "host"), **extra}
    return run_role_check("guest_image", tmp_path, variables, then=[write_record]), record


def task_output(stdout: str, name: str) -> str:
    """What ansible-playbook printed for one task of the role."""
    return stdout.split(f"TASK [guest_image : {name}]", 1)[1].split("TASK [", 1)[0]


CASES = {
    # name served, what it is, checksum file, algorithm, Ubuntu's "*name" lines
    "Debian: qcow2 with SHA512SUMS": ("debian-13-genericcloud-amd64.qcow2", "qcow2", "SHA512SUMS", "sha512", False),
    "Ubuntu: qcow2 .img with SHA256SUMS": ("noble-server-cloudimg-amd64.img", "qcow2", "SHA256SUMS", "sha256", True),
    "raw .xz with SHA512SUMS": ("disk.raw.xz", "raw.xz", "SHA512SUMS", "sha512", False),
    "raw with SHA256SUMS": ("disk.raw", "raw", "SHA256SUMS", "sha256", False),
}


@pytest.mark.parametrize(("name", "kind", "sums", "algorithm", "star"), CASES.values(), ids=CASES.keys())
def test_a_published_checksum_file_verifies_the_download_and_both_checksums_are_recorded(
    tmp_path: Path, served: tuple[Path, str], name: str, kind: str, sums: str, algorithm: str, star: bool,
) -> None:
    root, base = served
    image = publish(root, name, kind)
    sums_file(root, sums, image, algorithm, star=star)
    checksum = f"{algorithm}:{base}/{sums}"
    result, record = run(tmp_path, f"{base}/{name}", checksum)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    recorded = json.loads(record.read_text())
    disk = Path(recorded["disk"])
    assert disk.parent == tmp_path / "downloads"
    assert recorded["guest_image_published_checksum"] == checksum
    published = hashlib.new(algorithm, image.read_bytes()).hexdigest()
    assert recorded["guest_image_published_digest"] == f"{algorithm}:{published}"
    # hvlab's own sha256 is that of the qcow2 the hosts receive (decompressed, converted from raw)
    assert recorded["guest_image_sha256"] == hashlib.sha256(disk.read_bytes()).hexdigest()
    assert recorded["guest_image_path"] == f"{tmp_path / 'host'}/{recorded['guest_image_sha256']}.qcow2"
    assert image_format(disk) == "qcow2"
    assert recorded["guest_image_source_format"] == kind.removesuffix(".xz")
    if kind == "qcow2":
        assert disk.read_bytes() == image.read_bytes(), "a qcow2 is used as downloaded"
    else:
        subprocess.run(["qemu-img", "compare", "-q", str(root.parent / "disk.raw"), str(disk)], check=True)
    assert "changed:" in task_output(result.stdout, COPY)


def test_a_second_run_downloads_and_converts_nothing(tmp_path: Path, served: tuple[Path, str]) -> None:
    root, base = served
    image = publish(root, "disk.raw.xz", "raw.xz")
    sums_file(root, "SHA512SUMS", image, "sha512")
    first, _ = run(tmp_path, f"{base}/disk.raw.xz", f"sha512:{base}/SHA512SUMS")
    assert first.returncode == 0, first.stdout[-4000:]
    assert "changed:" in task_output(first.stdout, CONVERT)
    files = sorted(p.name for p in (tmp_path / "downloads").iterdir())
    again, _ = run(tmp_path, f"{base}/disk.raw.xz", f"sha512:{base}/SHA512SUMS")
    assert again.returncode == 0, again.stdout[-4000:]
    for task in (DOWNLOAD, "Decompress the image (.xz)", CONVERT):
        assert "ok: [localhost]" in task_output(again.stdout, task), task
    assert sorted(p.name for p in (tmp_path / "downloads").iterdir()) == files
    assert not [name for name in files if name.endswith(".part")]


def test_the_hex_form_is_verified_too(tmp_path: Path, served: tuple[Path, str]) -> None:
    root, base = served
    image = publish(root, "disk.qcow2", "qcow2")
    digest = hashlib.sha512(image.read_bytes()).hexdigest().upper()
    result, record = run(tmp_path, f"{base}/disk.qcow2", f"sha512:{digest}")
    assert result.returncode == 0, result.stdout[-4000:]
    assert json.loads(record.read_text())["guest_image_published_digest"] == f"sha512:{digest.lower()}"


def test_a_wrong_published_checksum_fails_and_keeps_nothing(tmp_path: Path, served: tuple[Path, str]) -> None:
    root, base = served
    image = publish(root, "debian-13-genericcloud-amd64.qcow2", "qcow2")
    wrong = hashlib.sha512(b"some other image").hexdigest()
    sums_file(root, "SHA512SUMS", image, "sha512", digest=wrong)
    result, record = run(tmp_path, f"{base}/{image.name}", f"sha512:{base}/SHA512SUMS")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert f"{base}/{image.name} was not downloaded: it does not match its published checksum" in out
    assert f"did not match {wrong}" in out
    assert list((tmp_path / "downloads").iterdir()) == []
    assert FIRST_HOST_TASK not in result.stdout
    assert not record.exists()


def test_an_image_neither_qcow2_nor_raw_nor_self_contained_is_refused(tmp_path: Path, served: tuple[Path, str]) -> None:
    root, base = served
    raw = whole_disk(root.parent / "disk.raw")
    qemu_img("convert", "-q", "-f", "raw", "-O", "vmdk", str(raw), str(root / "disk.vmdk"))
    qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(raw), str(root / "overlay.qcow2"))
    for name, problem in (("disk.vmdk", "is a vmdk image"), ("overlay.qcow2", "has a backing file")):
        sums_file(root, "SHA512SUMS", root / name, "sha512")
        result, record = run(tmp_path, f"{base}/{name}", f"sha512:{base}/SHA512SUMS")
        out = result.stdout + result.stderr
        assert result.returncode != 0, out
        assert f"guest_image_url {base}/{name} {problem}; it must name a qcow2 or raw image" in out, out[-3000:]
        assert FIRST_HOST_TASK not in result.stdout
        assert not record.exists()


BAD_CHECKSUMS = {
    "sha1": ("sha1:" + "a" * 40, {}, "guest_image_checksum must be sha256:HEX"),
    "sha256 one digit short": ("sha256:" + "a" * 63, {}, "guest_image_checksum must be sha256:HEX"),
    "sha512 with a sha256's length": ("sha512:" + "a" * 64, {}, "guest_image_checksum must be sha256:HEX"),
    "no algorithm": ("https://example.org/SHA512SUMS", {}, "guest_image_checksum must be sha256:HEX"),
    "space in the URL": ("sha512:https://example.org/SHA512SUMS x", {}, "guest_image_checksum must be sha256:HEX"),
    "both set": ("sha256:" + "a" * 64, {"guest_image_sha256": "a" * 64},
                 "set guest_image_checksum or guest_image_sha256, not both"),
    "file source": ("sha256:" + "a" * 64, {"guest_image_source": "file", "guest_image_file": "/etc/hostname"},
                    "guest_image_checksum is for the url source only, not file"),
}


@pytest.mark.parametrize(("checksum", "extra", "message"), BAD_CHECKSUMS.values(), ids=BAD_CHECKSUMS.keys())
def test_a_malformed_checksum_is_refused_naming_the_variable(
    tmp_path: Path, checksum: str, extra: dict[str, object], message: str,
) -> None:
    result, _ = run(tmp_path, "http://127.0.0.1:9/disk.qcow2", checksum, **extra)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert message in out, out[-3000:]
    assert DOWNLOAD_TASK not in result.stdout
    assert FIRST_HOST_TASK not in result.stdout
    assert not (tmp_path / "downloads").exists()
    assert re.search(r"localhost\s*:.*changed=0", result.stdout), result.stdout


def test_a_download_directory_others_can_write_to_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    result, _ = run(tmp_path, "http://127.0.0.1:9/disk.qcow2", "sha256:" + "a" * 64,
                    guest_image_download_dir=str(shared))
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "guest_image_download_dir" in out and "is writable by every user" in out, out[-3000:]
    assert DOWNLOAD_TASK not in result.stdout
    assert list(shared.iterdir()) == []
