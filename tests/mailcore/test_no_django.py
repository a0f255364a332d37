from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MAILCORE = ROOT / "mailcore"


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_mailcore_has_modules_to_check():
    assert (MAILCORE / "parse.py").is_file()
    assert (MAILCORE / "compose.py").is_file()


def test_no_mailcore_module_imports_django():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if m.split(".")[0] == "django"
        )
        for path in MAILCORE.rglob("*.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_importing_every_mailcore_module_loads_no_django():
    script = (
        "import importlib, pkgutil, sys\n"
        "import mailcore\n"
        "for info in pkgutil.walk_packages(mailcore.__path__, 'mailcore.'):\n"
        "    importlib.import_module(info.name)\n"
        "loaded = sorted(name for name in sys.modules if name == 'django' or name.startswith('django.'))\n"
        "print(','.join(loaded))\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
