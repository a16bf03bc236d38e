"""A benchmark measures its own checkout's code, or refuses (devservices.checkout, bench/_root.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from devservices.checkout import PACKAGES, foreign_packages

REPO = Path(__file__).resolve().parents[2]


def test_this_checkout_runs_its_own_code() -> None:
    assert foreign_packages(REPO) == {}


def test_another_root_finds_every_package_foreign(tmp_path: Path) -> None:
    assert set(foreign_packages(tmp_path)) == set(PACKAGES)


def test_a_benchmark_in_another_checkout_refuses_the_installed_code(tmp_path: Path) -> None:
    # given a second checkout (as a `git worktree` is) run with this checkout's environment: its
    # own ringfence/ (core, services, cli) comes first on sys.path, graph/ & co. come from the install
    other = tmp_path / "worktree"
    shutil.copytree(REPO / "ringfence", other / "ringfence", ignore=shutil.ignore_patterns("__pycache__"))
    (other / "devservices").mkdir()
    for name in ("__init__.py", "checkout.py", "namespace.py"):
        shutil.copy(REPO / "devservices" / name, other / "devservices" / name)
    shutil.copy(REPO / "pyproject.toml", other / "pyproject.toml")
    (other / "bench").mkdir()
    shutil.copy(REPO / "bench" / "_root.py", other / "bench" / "_root.py")
    (other / "bench" / "probe.py").write_text("import _root\nprint('measured')\n")
    run = subprocess.run([sys.executable, str(other / "bench" / "probe.py")], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    # then it exits before measuring, naming the mixed-in package and where it came from
    assert run.returncode != 0
    assert "measured" not in run.stdout
    assert f"ringfence.graph from {(REPO / 'graph').resolve()}" in run.stderr
    assert "import ringfence from" not in run.stderr  # its own namespace root is not foreign


def test_a_benchmark_in_this_checkout_runs(tmp_path: Path) -> None:
    probe = REPO / "bench" / "_root.py"
    run = subprocess.run([sys.executable, "-c", f"import runpy; runpy.run_path({str(probe)!r}); print('measured')"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "measured"
