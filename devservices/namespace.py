"""Lay the installed namespace out as a tree of links, for tools that cannot follow an import hook.

`pip install -e .` maps `ringfence.graph` to `graph/` (and so on) with setuptools' editable
finder, an import hook. mypy and import-linter read files, not hooks: they get
`build/ns/ringfence/...`, real folders holding a link to every source file, built from
`[tool.setuptools.package-dir]` in pyproject.toml (the one place the mapping is written).

    python -m devservices.namespace   # prints the tree's root
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TREE = REPO_ROOT / "build" / "ns"


def setuptools_config(root: Path = REPO_ROOT) -> dict:
    """pyproject.toml's [tool.setuptools]: the packages and the folders they map to."""
    return tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]


def build(root: Path = REPO_ROOT, tree: Path = TREE) -> Path:
    setuptools_cfg = setuptools_config(root)
    mapping: dict[str, str] = {pkg: pkg.replace(".", "/") for pkg in setuptools_cfg["packages"]}
    for pkg, folder in setuptools_cfg["package-dir"].items():
        mapping.update({p: folder + p[len(pkg):].replace(".", "/") for p in mapping if p.startswith(pkg)})
    shutil.rmtree(tree, ignore_errors=True)
    for pkg, folder in mapping.items():
        target = tree / pkg.replace(".", "/")
        target.mkdir(parents=True, exist_ok=True)
        for source in (root / folder).glob("*.py"):
            (target / source.name).symlink_to(source)
    return tree


if __name__ == "__main__":
    print(build())
    sys.exit(0)
