"""Load one of the project's Python files outside the hvlab package as a module, for unit tests.

Ansible plugins, the scripts roles copy to hosts and scripts/ live outside the hvlab package
(Ansible and the test script find them by path), so tests import them from their files.
Modules import their shared code as Ansible bundles it, from
ansible_collections.hvlab.lab.plugins.module_utils: the checkout's collections/ directory
(where hvlab.lab links back to the checkout) goes on sys.path for that.
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "collections") not in sys.path:
    sys.path.append(str(ROOT / "collections"))


def load_plugin(relative_path: str, module_name: str) -> ModuleType:
    path = ROOT / relative_path
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    return module
