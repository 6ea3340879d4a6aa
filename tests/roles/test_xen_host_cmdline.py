"""Xen's command line as the xen_host role builds it: the TCG-only words only where asked.

Rendered by ansible-playbook from the role's own defaults and vars files, in the role's
precedence (vars over defaults, extra vars over both), so the test reads the expression the
role uses rather than a copy of it. smap=0 turns a security feature off: a real host
(no hvlab_host_emulated) must never get it by default.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from role_runner import ROOT

TCG_WORDS = ["smap=0", "spec-ctrl=eager-fpu"]


def xen_cmdline(tmp_path: Path, variables: dict[str, object]) -> list[str]:
    role = ROOT / "roles" / "xen_host"
    out = tmp_path / "cmdline.json"
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{
        "name": "Render xen_host's Xen command line", "hosts": "localhost", "gather_facts": False,
        "vars_files": [str(role / "defaults" / "main.yml"), str(role / "vars" / "main.yml")],
        "tasks": [{"name": "Write it", "ansible.builtin.copy": {
            "content": "{{ __xen_host_cmdline | to_json }}", "dest": str(out), "mode": "0600"}}],
    }]))
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"ansible_python_interpreter": sys.executable, **variables}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
         "-e", f"@{extra}", str(play)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


CASES = {
    "a real host (no hvlab_host_emulated)": ({}, False),
    "a real host that says so": ({"hvlab_host_emulated": False}, False),
    "the virtual lab under TCG": ({"hvlab_host_emulated": True}, True),
    "forced on": ({"xen_host_tcg_workarounds": True}, True),
    "forced off on an emulated host (the fallback drill)": (
        {"hvlab_host_emulated": True, "xen_host_tcg_workarounds": False}, False),
}


@pytest.mark.parametrize(("variables", "has_tcg_words"), CASES.values(), ids=CASES.keys())
def test_tcg_words_only_where_asked(tmp_path: Path, variables: dict[str, object], has_tcg_words: bool) -> None:
    words = xen_cmdline(tmp_path, {"xen_host_extra_args": ["loglvl=all"], **variables})
    assert [w for w in words if w in TCG_WORDS] == (TCG_WORDS if has_tcg_words else [])
    # the user's own words come last, so one of them can override a TCG word
    assert words[-1] == "loglvl=all"
    assert words[0] == "dom0_mem=1024M,max:1024M"
