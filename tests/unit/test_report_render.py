"""What the rendered report says: banner, charts, fairness highlighting, failures, escaping."""

import csv
import json
import re
from pathlib import Path

from report_fixture import WORKLOADS, guest_probe, host_probe, run_record, write_json, write_results

from hvlab.report.load import load_results
from hvlab.report.render_html import render_html
from hvlab.report.render_markdown import render_markdown
from hvlab.report.view import EMULATED_BANNER, build
from hvlab.report.write import write_report

HOSTILE = "<script>&\"'"  # no slash: it also names files


def html_of(results_dir: Path) -> str:
    return render_html(build(load_results(results_dir), str(results_dir)))


def markdown_of(results_dir: Path) -> str:
    return render_markdown(build(load_results(results_dir), str(results_dir)))


def section(html: str, anchor: str) -> str:
    """A top-level section, up to the next one (workload sections nest inside Workloads)."""
    match = re.search(rf'<section id="{anchor}">(.*?)(?:<section id=|</main>)', html, re.DOTALL)
    assert match, f"no section {anchor}"
    return match.group(1)


def fairness_row(html: str, label: str) -> str:
    match = re.search(rf'<tr><td class="label">{re.escape(label)}</td>(.*?)</tr>', section(html, "fairness"))
    assert match, f"no fairness row {label}"
    return match.group(1)


def test_emulated_hosts_get_the_banner_with_their_names(tmp_path: Path) -> None:
    html = html_of(write_results(tmp_path))
    banner = re.search(r'<div class="banner emulated".*?</div>', html, re.DOTALL)
    assert banner and EMULATED_BANNER in banner.group(0)
    assert "kvm1, xen1" in banner.group(0)


def test_no_banner_on_hardware(tmp_path: Path) -> None:
    html = html_of(write_results(tmp_path, emulated=False))
    assert EMULATED_BANNER not in html
    assert 'class="banner emulated"' not in html


def test_one_chart_per_workload_and_a_ratio_overview(tmp_path: Path) -> None:
    html = html_of(write_results(tmp_path))
    workloads = re.findall(r'<section class="workload" id="w-([^"]+)">(.*?)</section>', html, re.DOTALL)
    assert [name for name, _ in workloads] == ["cpu", "memory", "disk_randread_4k", "disk_seqwrite_1m", "network",
                                               "boot"]
    for _, body in workloads:
        assert body.count('<svg class="chart"') == 1
        assert body.count('class="repeat"') >= 9  # every repeat is a dot (one network run failed)
    assert section(html, "summary").count('<svg class="chart"') == 1


def test_the_page_is_self_contained(tmp_path: Path) -> None:
    html = html_of(write_results(tmp_path))
    for needle in ("<script", "<link", "src=", "http://", "https://", "@import"):
        assert needle not in html


def test_intervals_and_readings_are_shown(tmp_path: Path) -> None:
    summary = section(html_of(write_results(tmp_path)), "summary")
    assert "KVM better" in summary and "Xen better" in summary
    assert re.search(r"\d\.\d{3} to \d\.\d{3}", summary)


def test_matching_guests_have_no_highlight_and_pv_drivers_are_fair(tmp_path: Path) -> None:
    html = html_of(write_results(tmp_path))
    assert '<td class="differs"' not in section(html, "fairness")
    for label in ("block driver", "net driver"):
        row = fairness_row(html, label)
        assert row.count('class="pv"') == 2 and "PV · " in row
    assert "virtio_blk" in fairness_row(html, "block driver") and "xen_blkfront" in fairness_row(html, "block driver")


def test_a_different_kernel_is_highlighted_on_both_sides(tmp_path: Path) -> None:
    write_results(tmp_path)
    write_json(tmp_path / "probes" / "guest__xen__g1.json", guest_probe("xen", kernel="6.12.9-amd64"))
    html = html_of(tmp_path)
    assert fairness_row(html, "guest kernel").count('class="differs"') == 2
    assert fairness_row(html, "image sha256").count('class="differs"') == 0
    assert "1 fairness difference(s)" in section(html, "summary")


def test_xen_guest_type_as_asked_and_as_seen(tmp_path: Path) -> None:
    write_results(tmp_path)
    write_json(tmp_path / "probes" / "guest__xen__g1.json", guest_probe("xen", xen_guest_type_seen="PVH"))
    assert fairness_row(html_of(tmp_path), "Xen guest type") == "<td>n/a (KVM)</td><td>pvh (the guest sees PVH)</td>"


def test_an_emulated_device_against_a_pv_one_is_a_difference(tmp_path: Path) -> None:
    write_results(tmp_path)
    write_json(tmp_path / "probes" / "guest__kvm__g1.json", guest_probe("kvm", block_driver="ahci"))
    row = fairness_row(html_of(tmp_path), "block driver")
    assert row.count('class="differs"') == 2 and "PV" not in row


def test_hostile_names_are_escaped_everywhere(tmp_path: Path) -> None:
    write_results(tmp_path, guest=HOSTILE)
    write_json(tmp_path / "probes" / "host__kvm1.json",
               host_probe("kvm", HOSTILE) | {"name": HOSTILE})
    html = html_of(tmp_path)
    assert "<script" not in html
    assert "&lt;script&gt;&amp;&#34;&#39;" in section(html, "fairness")
    assert "&lt;script&gt;" in section(html, "probes")
    assert "&lt;script&gt;" in section(html, "workloads")  # in the charts' SVG text too
    markdown = markdown_of(tmp_path)
    assert not re.search(r"(?<!\\)<", markdown)  # every "<" backslash-escaped
    assert "\\<script\\>&\"'" in markdown


def test_failed_runs_are_listed_and_marked_in_their_workload(tmp_path: Path) -> None:
    html = html_of(write_results(tmp_path))
    assert "runs/xen__g1__network__r3.json" in section(html, "failed")
    assert "iperf3: connection refused" in section(html, "failed")
    network = re.search(r'<section class="workload" id="w-network">(.*?)</section>', html, re.DOTALL)
    assert network
    assert "1 failed run(s)" in network.group(1)
    assert "✕ 1 failed" in network.group(1)
    assert "4 + 1 failed" in network.group(1)


def test_fewer_than_three_repeats_warn_and_give_no_interval(tmp_path: Path) -> None:
    html = html_of(write_results(tmp_path, repeats=2, with_failure=False))
    workloads = section(html, "workloads")
    warning = '<p class="warning">g1: fewer than 3 repeats: no interval can be given'
    assert workloads.count(warning) == len(WORKLOADS)
    # The boot says why it has one sample; the other workloads only that they have too few.
    assert workloads.count(warning + "</p>") == len(WORKLOADS) - 1
    assert " to " not in section(html, "summary").split("</svg>")[1]


def test_bad_files_are_named_and_the_rest_renders(tmp_path: Path) -> None:
    write_results(tmp_path)
    (tmp_path / "runs" / "kvm__g1__cpu__r1.json").write_text("not json")
    (tmp_path / "probes" / "guest__xen__g1.json").write_text('{"schema": "hvlab.probe/1"}')
    (tmp_path / "lab.json").unlink()
    html = html_of(tmp_path)
    problems = section(html, "problems")
    for name in ("runs/kvm__g1__cpu__r1.json", "probes/guest__xen__g1.json", "lab.json"):
        assert name in problems
    assert 'class="banner problems"' in html
    assert html.count('<section class="workload"') == len(WORKLOADS)


def test_several_guests_share_a_chart_and_get_a_column_each(tmp_path: Path) -> None:
    write_results(tmp_path)
    for stack in ("kvm", "xen"):
        for repeat in (1, 2, 3, 4, 5):
            write_json(tmp_path / "runs" / f"{stack}__g2__cpu__r{repeat}.json",
                       run_record(stack, "g2", "cpu", repeat, 800.0 + repeat))
        write_json(tmp_path / "probes" / f"guest__{stack}__g2.json", guest_probe(stack, "g2", vcpus=2))
    html = html_of(tmp_path)
    headers = re.findall(r'<th class="(?:kvm|xen)">(\w+ · g\d)</th>', section(html, "fairness"))
    assert headers == ["KVM · g1", "Xen · g1", "KVM · g2", "Xen · g2"]
    cpu = re.search(r'<section class="workload" id="w-cpu">(.*?)</section>', html, re.DOTALL)
    assert cpu and cpu.group(1).count('<svg class="chart"') == 1 and ">g2</text>" in cpu.group(1)


def test_markdown_has_the_same_tables(tmp_path: Path) -> None:
    write_results(tmp_path)
    write_json(tmp_path / "probes" / "guest__xen__g1.json", guest_probe("xen", kernel="6.12.9-amd64"))
    text = markdown_of(tmp_path)
    assert f"**{EMULATED_BANNER}.**" in text
    for heading in ("## Summary", "### cpu", "### boot", "## Fairness", "## Probes", "## Failed runs", "## Problems"):
        assert f"\n{heading}" in text
    assert "| guest kernel | **6.1.0-28-amd64** ≠ | **6.12.9-amd64** ≠ |" in text
    assert "| block driver | PV · virtio_blk | PV · xen_blkfront |" in text
    assert "runs/xen__g1__network__r3.json" in text


def test_write_report_writes_the_four_files(tmp_path: Path) -> None:
    results_dir = write_results(tmp_path / "results")
    written = write_report(results_dir, tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"report.html", "report.md", "runs.csv", "summary.json"}
    rows = list(csv.DictReader(written.csv.open()))
    assert len(rows) == 2 * 5 * len(WORKLOADS)
    assert [r["file"] for r in rows if r["status"] == "failed"] == ["runs/xen__g1__network__r3.json"]
    summary = json.loads(written.summary.read_text())
    assert summary["emulated_hosts"] == ["kvm1", "xen1"]
    assert summary["failed_runs"] == ["runs/xen__g1__network__r3.json"]
    cpu = next(c for c in summary["comparisons"] if c["workload"] == "cpu")
    assert cpu["kvm"]["n"] == 5 and cpu["ci_low"] < cpu["ratio_kvm_over_xen"] < cpu["ci_high"]
    assert written.problems == []
    assert written.warnings == ["network g1: 1 failed run(s) on Xen, listed under Failed runs"]


def test_a_workload_that_failed_everywhere_still_has_its_section(tmp_path: Path) -> None:
    write_results(tmp_path)
    for stack in ("kvm", "xen"):
        for repeat in (1, 2, 3, 4, 5):
            write_json(tmp_path / "runs" / f"{stack}__g1__kernel_compile__r{repeat}.json",
                       run_record(stack, "g1", "kernel_compile", repeat, None, error="make: out of memory"))
    html = html_of(tmp_path)
    body = re.search(r'<section class="workload" id="w-kernel_compile">(.*?)</section>', html, re.DOTALL)
    assert body and "no data</text>" in body.group(1) and "✕ 5 failed" in body.group(1)
    assert "no successful runs on KVM; fewer than 3 repeats: no interval can be given" in body.group(1)
    assert section(html, "failed").count("make: out of memory") == 10


def test_probes_without_data_show_dashes(tmp_path: Path) -> None:
    write_results(tmp_path)
    for name, kind, stack in (("host__kvm1", "host", "kvm"), ("guest__xen__g1", "guest", "xen")):
        write_json(tmp_path / "probes" / f"{name}.json",
                   {"schema": "hvlab.probe/1", "kind": kind, "stack": stack, "name": name.split("__")[-1]})
    html = html_of(tmp_path)
    assert fairness_row(html, "guest kernel") == "<td>6.1.0-28-amd64</td><td>—</td>"
    assert fairness_row(html, "host CPU governor") == "<td>—</td><td>none</td>"
    assert '<td>kvm1</td><td class="kvm">KVM</td><td class="long">—</td>' in section(html, "probes")
    assert "<td>kvm1</td><td>—</td><td>— → —</td><td>— → —</td><td>—</td>" in section(html, "probes")
    assert section(html, "problems").count("<li>") == 0


def test_the_hosts_table_says_which_host_is_itself_a_vm(tmp_path: Path) -> None:
    probes = section(html_of(write_results(tmp_path)), "probes")
    assert "itself a VM" in probes and "QEMU Standard PC (Q35 + ICH9, 2009)" in probes
    hardware = section(html_of(write_results(tmp_path / "hw", emulated=False)), "probes")
    assert "Dell Inc. PowerEdge R650" in hardware and '<td class="emulated">yes</td>' not in hardware


def test_vcpu_affinity_as_the_hosts_see_it_is_compared(tmp_path: Path) -> None:
    write_results(tmp_path)
    same = fairness_row(html_of(tmp_path), "vCPU affinity seen by the host")
    assert same.count("vCPU 0: 0-1") == 2 and 'class="differs"' not in same
    host = host_probe("xen")
    host["data"]["guest_vcpu_affinity"] = {"g1": ["1"]}
    write_json(tmp_path / "probes" / "host__xen1.json", host)
    row = fairness_row(html_of(tmp_path), "vCPU affinity seen by the host")
    assert "vCPU 0: 1<" in row and row.count('class="differs"') == 2


# The network runs of issue 22 (Mbit/s): the tables used to show arithmetic means (88.66 and 84.22)
# beside a ratio of geometric means (0.795), which contradicts itself to anyone who divides.
NETWORK_KVM = (127.9, 10.4, 125.0, 128.7, 51.3)
NETWORK_XEN = (111.3, 112.2, 79.9, 60.8, 56.9)


def write_network(root: Path, kvm: tuple[float, ...] = NETWORK_KVM, xen: tuple[float, ...] = NETWORK_XEN) -> Path:
    write_results(root, repeats=max(len(kvm), len(xen)), with_failure=False)
    for stack, values in (("kvm", kvm), ("xen", xen)):
        for repeat, value in enumerate(values, 1):
            write_json(root / "runs" / f"{stack}__g1__network__r{repeat}.json",
                       run_record(stack, "g1", "network", repeat, value))
    return root


def table_rows(html: str) -> list[list[str]]:
    """Every table row of an HTML fragment as its cells' text."""
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.DOTALL)]
            for row in re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL)]


def test_tables_show_the_geometric_means_the_ratio_divides(tmp_path: Path) -> None:
    html = html_of(write_network(tmp_path))
    rows = table_rows(section(html, "summary"))
    header = rows[0]
    assert header[3:8] == ["KVM geometric mean", "KVM CV", "Xen geometric mean", "Xen CV", "KVM/Xen"]
    network = next(row for row in rows if row[0] == "network")
    assert network[3].startswith("64.28 Mbit/s") and network[5] == "80.84 Mbit/s"
    assert network[7] == "0.795"
    assert "88.66" not in section(html, "summary")  # the arithmetic mean is in the detail only
    detail = table_rows(re.search(r'id="w-network">(.*?)</section>', html, re.DOTALL).group(1))
    assert detail[0][:6] == ["guest", "stack", "geometric mean", "arithmetic mean", "median", "stdev"]
    assert detail[1][1:5] == ["KVM", "64.28", "88.66", "125.0"]
    assert detail[2][1:5] == ["Xen", "80.84", "84.22", "79.90"]
    how = section(html, "how")
    assert "arithmetic mean and the median are in each workload" in how
    assert "ratio of the two geometric means is also the geometric mean of the per-repeat KVM/Xen ratios" in how
    assert "no single run dominates" in how
    # The Markdown tables are the same: geometric means named in the headers, the figures the ratio divides.
    markdown = markdown_of(tmp_path)
    assert "| KVM geometric mean | KVM CV | Xen geometric mean | Xen CV | KVM/Xen |" in markdown
    assert "| network | g1 | higher | 64.28 Mbit/s (1 outlier) | 61.7% | 80.84 Mbit/s | 31.6% | 0.795 |" in markdown
    assert "| guest | stack | geometric mean | arithmetic mean | median | stdev | CV |" in markdown
    assert "| g1 | KVM | 64.28 | 88.66 | 125.0 |" in markdown
    assert "ratio of the two geometric means is also the geometric mean" in markdown


def test_the_stalled_run_is_flagged_in_chart_tables_and_summary_json(tmp_path: Path) -> None:
    write_network(tmp_path)
    written = write_report(tmp_path, tmp_path / "out")
    html = written.html.read_text()
    network = re.search(r'id="w-network">(.*?)</section>', html, re.DOTALL).group(1)
    assert network.count('class="repeat outlier"') == 1
    assert "KVM g1: 10.40 in repeat 2, an outlier: more than 3 times off the median 125.0</title>" in network
    kvm_row = table_rows(network)[1]
    assert kvm_row[-1] == "10.40 (r2)" and kvm_row[6] == "61.7%"
    assert "1 outlier run(s) on KVM: 10.40 in repeat 2" in network
    assert "64.28 Mbit/s (1 outlier)" in section(html, "summary")
    summary = json.loads(written.summary.read_text())
    assert summary["outlier_runs"] == 1 and "3 times below or above the median" in summary["outlier_rule"]
    item = next(c for c in summary["comparisons"] if c["workload"] == "network")
    assert item["kvm"]["outliers"] == ["runs/kvm__g1__network__r2.json"] and item["xen"]["outliers"] == []
    assert (item["kvm"]["outlier_count"], item["xen"]["outlier_count"]) == (1, 0)
    assert all(c[stack]["outlier_count"] == 0 for c in summary["comparisons"] if c["workload"] != "network"
               for stack in ("kvm", "xen"))
    assert round(item["kvm"]["geomean"], 1) == 64.3 and round(item["xen"]["geomean"], 1) == 80.8
    assert item["kvm"]["median"] == 125.0 and item["kvm"]["noisy"] is True
    assert "outlier" in markdown_of(tmp_path) and "| 10.40 (r2) |" in markdown_of(tmp_path)


def test_three_repeats_are_enough_to_flag_a_stalled_run(tmp_path: Path) -> None:
    written = write_report(write_network(tmp_path, NETWORK_KVM[:3], NETWORK_XEN[:3]), tmp_path / "out")
    network = re.search(r'id="w-network">(.*?)</section>', written.html.read_text(), re.DOTALL).group(1)
    assert network.count('class="repeat outlier"') == 1 and "10.40 in repeat 2, an outlier" in network
    assert table_rows(network)[1][-1] == "10.40 (r2)" and table_rows(network)[2][-1] == "0"
    assert json.loads(written.summary.read_text())["outlier_runs"] == 1
    assert written.problems == []


def test_a_spread_that_makes_the_interval_meaningless_is_said_in_the_reading(tmp_path: Path) -> None:
    html = html_of(write_network(tmp_path))
    network = next(row for row in table_rows(section(html, "summary")) if row[0] == "network")
    assert network[-1] == "too noisy to tell: KVM CV 62%, Xen CV 32%"
    assert "the interval says little" in section(html, "workloads")
    # Steady repeats with the same ratio do get a reading that names a stack.
    steady = html_of(write_network(tmp_path / "steady", tuple(v * 1.5 for v in (100, 101, 99, 100, 102)),
                                   (100, 101, 99, 100, 98)))
    network = next(row for row in table_rows(section(steady, "summary")) if row[0] == "network")
    assert network[-1] == "KVM better"


def test_fairness_names_the_back_ends_and_hosts_as_the_hosts_report_them(tmp_path: Path) -> None:
    html = html_of(write_results(tmp_path))
    assert fairness_row(html, "disk back-end (host reports)") == (
        "<td>QEMU virtio-blk in a Linux process (pid 1234)</td><td>QEMU qdisk in Dom0 (pid 2301)</td>")
    assert fairness_row(html, "net back-end (host reports)") == (
        "<td>vhost-net (host kernel)</td><td>netback (kernel) in Dom0</td>")
    assert fairness_row(html, "disk image (host reports)").count("qcow2, linked clone") == 2
    assert fairness_row(html, "host distribution").count("Debian GNU/Linux 12 (bookworm)") == 2
    assert fairness_row(html, "host firmware") == "<td>bios</td><td>bios</td>"
    assert fairness_row(html, "Xen version") == "<td>n/a (KVM)</td><td>4.17.5</td>"
    hosts = table_rows(section(html, "probes"))
    assert hosts[0][2:5] == ["distribution", "firmware", "Xen"]
    assert hosts[1][2:5] == ["Debian GNU/Linux 12 (bookworm)", "bios", "n/a (KVM)"]
    assert hosts[2][2:5] == ["Debian GNU/Linux 12 (bookworm)", "bios", "4.17.5"]
    assert "disk back-end (host reports)" in markdown_of(tmp_path)


def test_a_raw_image_or_other_firmware_on_one_side_is_a_difference(tmp_path: Path) -> None:
    write_results(tmp_path)
    xen = host_probe("xen")
    xen["data"]["guest_backends"]["g1"] |= {"disk_format": "raw", "disk_backing_file": None}
    xen["data"]["firmware"] = "uefi-secureboot"
    write_json(tmp_path / "probes" / "host__xen1.json", xen)
    html = html_of(tmp_path)
    assert fairness_row(html, "disk image (host reports)").count('class="differs"') == 2
    assert fairness_row(html, "host firmware").count('class="differs"') == 2
    assert "2 fairness difference(s)" in section(html, "summary")


def test_stacks_with_different_repeat_counts_render_with_the_counts_and_a_warning(tmp_path: Path) -> None:
    write_results(tmp_path, with_failure=False)
    for repeat in (4, 5):
        (tmp_path / "runs" / f"xen__g1__cpu__r{repeat}.json").unlink()
    written = write_report(tmp_path, tmp_path / "out")
    html = written.html.read_text()
    cpu = re.search(r'id="w-cpu">(.*?)</section>', html, re.DOTALL).group(1)
    rows = table_rows(cpu)
    assert (rows[0][9], rows[1][9], rows[2][9]) == ("runs", "5", "3")
    warning = "g1: the stacks do not have the same number of runs (KVM 5, Xen 3): they were not sampled alike"
    assert f'<p class="warning">{warning}</p>' in cpu
    assert f"cpu {warning}" in written.warnings
    assert "runs/xen__g1__cpu__r4.json: missing: lab.json asks for this repeat" in written.problems
    item = next(c for c in json.loads(written.summary.read_text())["comparisons"] if c["workload"] == "cpu")
    assert (item["kvm"]["n"], item["xen"]["n"], item["same_run_count"]) == (5, 3, False)


def test_runs_csv_cells_that_a_spreadsheet_would_run_as_formulas_stay_text(tmp_path: Path) -> None:
    write_results(tmp_path)
    hostile = {"=HYPERLINK(\"http://x\")": "host", "+1+2": "tool", "-2+3": "started", "@SUM(A1)": "error"}
    path = tmp_path / "runs" / "kvm__g1__cpu__r1.json"
    record = json.loads(path.read_text()) | {field: text for text, field in hostile.items()}
    record |= {"status": "failed", "value": None}
    write_json(path, record)
    written = write_report(tmp_path, tmp_path / "out")
    row = next(r for r in csv.DictReader(written.csv.open()) if r["file"] == "runs/kvm__g1__cpu__r1.json")
    for text, field in hostile.items():
        assert row[field] == "'" + text
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in csv.reader(written.csv.open()) for cell in r)
    ok = next(r for r in csv.DictReader(written.csv.open()) if r["file"] == "runs/kvm__g1__cpu__r2.json")
    assert ok["host"] == "kvm1" and float(ok["value"]) > 0  # ordinary cells are untouched


def boot_with_parts(root: Path, *, repeats: int, parts: dict[str, tuple[float, float]]) -> Path:
    """Boot records split into domain creation and guest boot, as the guests role measures them."""
    write_results(root)
    for path in (root / "runs").glob("*__boot__r*.json"):
        path.unlink()
    for stack, (create, guest_boot) in parts.items():
        for repeat in range(1, repeats + 1):
            record = run_record(stack, "g1", "boot", repeat, round(create + guest_boot, 1))
            record["extra"] = {"create_s": create, "guest_boot_s": guest_boot}
            write_json(root / "runs" / f"{stack}__g1__boot__r{repeat}.json", record)
    return root


def test_the_boot_detail_splits_domain_creation_from_the_guest_s_boot(tmp_path: Path) -> None:
    # Xen's toolstack slower to create the domain, its guest quicker to boot: the parts say which.
    boot_with_parts(tmp_path, repeats=3, parts={"kvm": (1.5, 20.0), "xen": (6.0, 12.5)})
    html = html_of(tmp_path)
    detail = re.search(r'<section class="workload" id="w-boot">(.*?)</section>', html, re.DOTALL)
    assert detail
    rows = re.findall(r"<tr>(.*?)</tr>", detail.group(1).split("domain creation (geometric mean)")[1], re.DOTALL)
    cells_of = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows if "<td" in row]
    assert cells_of == [["g1", "KVM", "1.50", "20.00", "3"], ["g1", "Xen", "6.00", "12.50", "3"]]
    assert "guest boot (geometric mean)" in markdown_of(tmp_path)


def test_a_single_boot_says_why_it_has_no_interval(tmp_path: Path) -> None:
    boot_with_parts(tmp_path, repeats=1, parts={"kvm": (1.5, 20.0), "xen": (6.0, 12.5)})
    html = html_of(tmp_path)
    assert "A guest&#39;s boot is timed once" in html or "A guest's boot is timed once" in html


def test_a_boot_the_guests_role_reset_is_said_beside_its_figures(tmp_path: Path) -> None:
    boot_with_parts(tmp_path, repeats=1, parts={"kvm": (1.5, 20.0), "xen": (6.0, 12.5)})
    path = tmp_path / "runs" / "kvm__g1__boot__r1.json"
    record = json.loads(path.read_text())
    record["extra"]["resets"] = 1
    write_json(path, record)
    said = ("g1: on KVM the guest was reset during its boot after its console showed a kernel panic or a frozen "
            "systemd (1 time(s) in repeat 1); that boot's figure includes the failed boot")
    assert said in markdown_of(tmp_path)
    assert said.replace("'", "&#39;") in html_of(tmp_path) or said in html_of(tmp_path)
    record["extra"].pop("resets")
    write_json(path, record)
    assert "was reset during its boot" not in markdown_of(tmp_path)


def test_workloads_without_parts_have_no_parts_table(tmp_path: Path) -> None:
    write_results(tmp_path)
    assert "domain creation" not in html_of(tmp_path)
