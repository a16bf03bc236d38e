"""Which checkout's code a script runs.

`pip install -e .` maps `ringfence.graph` (and gnn/, api/, workers/, cypher/) to the folders of
the checkout it was run in, with an import hook, while `ringfence` itself (core, services, cli) is
found on sys.path first. A benchmark run from another checkout (a `git worktree` of an older
commit, for an A/B run) with the installed venv puts its own root on sys.path and so imports its
own `ringfence.core` with the installed checkout's `ringfence.graph`: two commits mixed, silently,
and the A/B measures one side twice. Benchmarks call `require_own_code` before they measure.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from devservices.namespace import setuptools_config

# The namespace root and every package the install maps to a folder of its own (graph/, gnn/, ...).
PACKAGES = ("ringfence", *setuptools_config()["package-dir"])


def foreign_packages(root: Path) -> dict[str, Path | None]:
    """The packages this process would import from outside checkout `root`, with their files."""
    out: dict[str, Path | None] = {}
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        where = Path(spec.origin).resolve() if spec is not None and spec.origin else None
        if where is None or root.resolve() not in where.parents:
            out[name] = where
    return out


def require_own_code(root: Path) -> None:
    """Exit with a clear message unless every ringfence package comes from checkout `root`."""
    foreign = foreign_packages(root)
    if foreign:
        shown = ", ".join(f"{name} from {where.parent if where else 'nowhere'}" for name, where in foreign.items())
        raise SystemExit(f"this script is in {root} but would import {shown}: give this checkout its own "
                         f"environment (`make install` in {root}, then {root}/.venv/bin/python)")
