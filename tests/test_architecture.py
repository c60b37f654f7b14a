"""The house rules of docs/architecture.md, checked on the code as it is.

`make lint` runs `lint-imports` (the contracts in pyproject.toml); these tests run the same
contracts from pytest, prove that they catch a wrong-direction import and a cycle, and keep every
module at 300 lines or fewer.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("training", "scripts_bank", "pages")
MAX_LINES = 300


def _lint(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    args = [str(LINT_IMPORTS), "--no-cache", "--no-logo"]
    for contract in contracts:
        args += ["--contract", contract]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


def _copy_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_import_contracts_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_direction_import_breaks_the_build(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    with (tree / "training" / "core" / "errors.py").open("a") as handle:
        handle.write("\nfrom training.ops import jobs  # noqa: E402,F401 - the wrong way round\n")
    result = _lint(tree, "training")
    assert result.returncode != 0
    assert "training.core.errors -> training.ops.jobs" in result.stdout


def test_an_import_cycle_breaks_the_build(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    # mining.text is imported by mining.mine; importing mine back, even inside a function, is a cycle.
    with (tree / "training" / "mining" / "text.py").open("a") as handle:
        handle.write("\n\ndef _late() -> None:\n    from training.mining import mine  # noqa: F401\n")
    result = _lint(tree, "acyclic")
    assert result.returncode != 0
    assert "training.mining" in result.stdout


@pytest.mark.parametrize("package", [*PACKAGES, "app.py"])
def test_no_module_over_300_lines(package: str) -> None:
    files = [ROOT / package] if package.endswith(".py") else sorted((ROOT / package).rglob("*.py"))
    long = {str(f.relative_to(ROOT)): n for f in files if (n := len(f.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these modules (at most {MAX_LINES} lines each): {long}"


def test_the_map_in_docs_architecture_names_every_module() -> None:
    """docs/architecture.md is the newcomer's map: a module it does not name is a room nobody can find."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    modules = [f for package in PACKAGES for f in sorted((ROOT / package).rglob("*.py"))
               if f.name not in ("__init__.py", "__main__.py")]
    missing = [str(f.relative_to(ROOT)) for f in modules if f"`{f.stem}`" not in text]
    assert missing == [], f"add these modules to docs/architecture.md: {missing}"
