"""Whose results directory this is: the one check `hvlab up --results` and the compare role share.

The compare role removes the records of the comparison before (lab.json, runs/, probes/) from
its results directory, and `hvlab up` writes its log and the report there. Neither may do that
in a directory hvlab did not make, nor drop a comparison nobody asked to replace. The mark of
hvlab's results directory is its lab.json: a JSON object whose `schema` is hvlab's lab schema,
which only the compare role writes. It is parsed, so a file that merely mentions the schema,
or a YAML look-alike, is not the mark.
"""

import json
import os
from collections.abc import Collection
from pathlib import Path

from hvlab.report.load import LAB_SCHEMA

LAB_FILE = "lab.json"
# What `hvlab up` writes beside the records. The compare role finds them there before it runs
# (the log is open from the start), so they do not make the directory someone else's.
LOG_FILE = "ansible.log"
STAGES_FILE = "stages.json"
UP_FILES = frozenset({LOG_FILE, STAGES_FILE})
# `hvlab claims` adds its log to a comparison it finds (the claims role checks the lab.json).
CLAIMS_LOG_FILE = "claims.log"


def holds_comparison(directory: Path) -> bool:
    """True when directory's lab.json is hvlab's; one that cannot be read or parsed is not."""
    try:
        lab = json.loads((directory / LAB_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(lab, dict) and lab.get("schema") == LAB_SCHEMA


def refusal(directory: Path, *, replace: bool, option: str, replace_option: str,
            ignored: Collection[str] = ()) -> str:
    """Why hvlab must not put its records in directory, or "" when it may.

    It may when the directory does not exist, holds nothing but the `ignored` names, or holds
    an earlier comparison and `replace` is set. `option` and `replace_option` are what the
    user sets (a role variable or a CLI option), so the message says what to change.
    """
    if not os.path.lexists(directory):
        return ""
    if not directory.is_dir():
        return f"{option} {directory} is not a directory"
    try:
        entries = set(os.listdir(directory)) - set(ignored)
    except OSError as exc:
        return f"{option} {directory} cannot be read: {exc.strerror}"
    if not entries:
        return ""
    if not holds_comparison(directory):
        return (f"{option} {directory} holds files and is not an hvlab results directory (it has no lab.json "
                f'with "schema": "{LAB_SCHEMA}"): name a new or empty directory; nothing was changed')
    if not replace:
        return (f"{option} {directory} holds an earlier comparison: {replace_option} replaces it (copy it "
                "elsewhere first to keep it), or name another directory; nothing was changed")
    return ""
