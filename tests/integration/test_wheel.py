"""The wheel as a user installs it: only `ringfence*` inside, every query file shipped, and a
smoke run (load, sweep, read a ring; train on the embedded store) from a fresh virtualenv.

The fresh virtualenv gets the wheel installed for real (not editable) and borrows the
third-party packages of the test environment through a path entry, so torch is not installed
twice; the repository is never on its path (the commands run from an empty folder), so
every `ringfence` module it imports comes from the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from ringfence.core.settings import Settings
from ringfence.graph.factory import open_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (built,) = out.glob("ringfence-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=300)
    python = home / "bin" / "python"
    site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    # Appended after the venv's own site-packages: the wheel's ringfence wins; the test
    # environment's editable install is a .pth file there, which a path entry does not run.
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)], check=True, timeout=300)
    return home


def test_the_wheel_holds_only_ringfence_with_every_query_and_schema(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert top == {"ringfence", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, top
    shipped = {n.removeprefix("ringfence/cypher/") for n in names if n.startswith("ringfence/cypher/")}
    assert {p.name for p in (ROOT / "cypher").glob("*.cypher")} <= shipped
    assert "ringfence/graph/sqlite_schema.sql" in names
    assert {f"ringfence/api/static/docs/{p.name}" for p in (ROOT / "api" / "static" / "docs").iterdir()} <= set(names)
    ui = ROOT / "api" / "ui"
    assert {f"ringfence/api/ui/{p.relative_to(ui).as_posix()}" for p in ui.rglob("*") if p.is_file()} <= set(names)
    for package in ("graph", "gnn", "api", "api/routes", "workers", "core", "services"):
        assert f"ringfence/{package}/__init__.py" in names
    assert not [n for n in names if "devservices" in n or n.startswith(("tests/", "bench/"))]


def _run(venv: Path, cwd: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run([str(venv / "bin" / "ringfence"), *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, f"ringfence {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result.stdout


READ_A_RING = """
import json, ringfence
from ringfence.core.settings import get_settings
from ringfence.graph.factory import open_store
store = open_store(get_settings())
page = store.list_rings(None, None, 5)
ring = store.get_ring(page.data[0].id)
print(json.dumps({"module": ringfence.__file__, "rings": len(page.data), "members": len(ring.members),
                  "identifiers": len(ring.identifiers), "risk": ring.summary.risk}))
store.close()
"""


@pytest.fixture(scope="module")
def world(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small world written once by the installed `ringfence generate`."""
    out = tmp_path_factory.mktemp("world") / "world.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RINGFENCE_", "PYTHONPATH"))}
    _run(venv, out.parent, env, "generate", "--accounts", "1500", "--seed", "3", "--out", str(out))
    return out


# Training runs on the embedded store only: on Neo4j the wheel's part is its Cypher files, which
# load, sweep and the ring read all use (training reads the same whole-graph arrays as the sweep).
@pytest.mark.parametrize("backend", ["sqlite", "neo4j"])
def test_an_installed_wheel_loads_sweeps_and_reads_a_ring_and_trains_on_the_embedded_store(
    backend: str, venv: Path, world: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'wheel.db'}" if backend == "sqlite" else request.getfixturevalue("neo4j_url")
    if backend == "neo4j":
        store = open_store(Settings(graph_url=url))
        store.reset()
        store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RINGFENCE_", "PYTHONPATH"))}
    env |= {"RINGFENCE_GRAPH_URL": url, "RINGFENCE_DATA_DIR": str(tmp_path / "data")}
    work = tmp_path / "empty"
    work.mkdir()
    # given a small world loaded with the installed command
    _run(venv, work, env, "load", str(world))
    # when a model is trained (embedded store) and a sweep publishes rings
    if backend == "sqlite":
        assert "active model:" in _run(venv, work, env, "train")
    swept = json.loads(_run(venv, work, env, "sweep"))
    # then a ring reads back whole, through the wheel's own modules (and Cypher files, on Neo4j)
    read = subprocess.run([str(venv / "bin" / "python"), "-c", READ_A_RING], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert read.returncode == 0, read.stderr[-3000:]
    ring = json.loads(read.stdout)
    assert ring["module"].startswith(str(venv)), ring["module"]
    assert swept["rings"] > 0 and ring["rings"] > 0
    assert ring["members"] >= 3 and ring["identifiers"] >= 1 and 0.0 <= ring["risk"] <= 1.0
