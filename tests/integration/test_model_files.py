"""Model files (issue #14): the whole version is signed by its manifest and checked on every
load; activation probes the model in a child process; a broken active version is refused at
start-up with a fallback that /readyz and /metrics report; scores under a missing or broken
model answer 503 `model_unavailable`. One test per tampering case."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ringfence.core.errors import ModelRejected, ModelUnavailable
from ringfence.core.settings import Settings
from ringfence.gnn.registry import META, WEIGHTS, Registry, _probe_in_interpreter, probe_in_child
from ringfence.gnn.testing import load_world
from ringfence.gnn.train import TrainConfig, train
from ringfence.graph.sqlite_store import SQLiteStore
from tests.support.clients import TORCH_SPARSE, assert_error, running_app
from tests.support.settings import ADMIN

pytestmark = TORCH_SPARSE
CONFIG = TrainConfig(hidden=16, max_epochs=4, patience=4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A data directory with a world and one trained, probed and activated version."""
    root = tmp_path_factory.mktemp("models-world")
    store = SQLiteStore(root / "ringfence.db")
    store.migrate()
    load_world(store, 600, seed=11)
    report = train(store, Settings(data_dir=root), seed=3, config=CONFIG)
    store.close()
    yield root, report.version


@pytest.fixture
def data(trained: tuple[Path, str], tmp_path: Path) -> tuple[Path, Registry, str]:
    """A fresh copy of the trained data directory: (data dir, registry, good version)."""
    root, version = trained
    copy = tmp_path / "data"
    shutil.copytree(root, copy)
    return copy, Registry(copy / "models"), version


def _flip_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def _edit_meta(key: str, edit: Callable[[object], object]) -> Callable[[Path], None]:
    def tamper(version_dir: Path) -> None:
        meta = json.loads((version_dir / META).read_text())
        meta[key] = edit(meta.get(key))
        (version_dir / META).write_text(json.dumps(meta, indent=1, sort_keys=True))
    return tamper


TAMPERING: dict[str, Callable[[Path], None]] = {
    "a weights byte": lambda d: _flip_byte(d / WEIGHTS),
    "the kind in model.json": _edit_meta("kind", lambda k: "gnn" if k != "gnn" else "hybrid"),
    "the booster's tree sizes": _edit_meta("booster", lambda b: re.sub(r"tree_sizes=(\d+)", "tree_sizes=1\\1",
                                                                     str(b))),
    "a metric": _edit_meta("metrics", lambda m: {**(m if isinstance(m, dict) else {}), "ap": 0.999}),
    "the weights removed": lambda d: (d / WEIGHTS).unlink(),
    "a file added": lambda d: (d / "extra.py").write_text("print('hi')"),
    "the manifest removed": lambda d: (d / "MANIFEST.json").unlink(),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_every_tampering_is_refused_on_load_and_on_activation(case: str, data: tuple[Path, Registry, str]) -> None:
    root, registry, version = data
    copy = registry.save(registry.load(version).tensors, {k: v for k, v in registry.meta(version).items()
                                                         if k not in ("version", "weights_sha256")})
    TAMPERING[case](root / "models" / copy)
    with pytest.raises(ModelUnavailable):
        registry.load(copy)
    with running_app(root) as client:
        response = client.post(f"/v1/models/{copy}/activate", headers=ADMIN)
        assert_error(response, 409, "model_rejected")
        assert registry.active_version() == version


# the forkserver child, and the fresh interpreter that Celery's daemonic pool processes use
@pytest.mark.parametrize("probe", [probe_in_child, _probe_in_interpreter], ids=["forkserver", "interpreter"])
def test_a_signed_model_that_crashes_when_scoring_is_refused_by_the_child_probe(
    data: tuple[Path, Registry, str], probe: Callable[[Path, str], None],
) -> None:
    root, registry, version = data
    registry.probe = probe
    meta = {k: v for k, v in registry.meta(version).items() if k not in ("version", "weights_sha256")}
    if meta.get("booster"):  # stale tree sizes: LightGBM aborts the process that scores
        meta["booster"] = re.sub(r"tree_sizes=(\d+)", lambda m: f"tree_sizes={int(m.group(1)) // 2}", meta["booster"])
    else:  # weights of another shape than the config says
        meta["config"] = {**meta["config"], "hidden": meta["config"]["hidden"] * 2}
    broken = registry.save(registry.load(version).tensors, meta)  # a consistent manifest: only the probe sees it
    registry.load(broken)
    with pytest.raises(ModelRejected, match="probe"):
        registry.activate(broken)
    assert registry.active_version() == version


def test_a_broken_active_version_is_refused_at_start_up_and_the_last_good_one_serves(
    data: tuple[Path, Registry, str], caplog: pytest.LogCaptureFixture,
) -> None:
    root, registry, good = data
    newer = registry.save(registry.load(good).tensors, {k: v for k, v in registry.meta(good).items()
                                                        if k not in ("version", "weights_sha256")})
    registry.activate(newer)
    _flip_byte(root / "models" / newer / WEIGHTS)
    caplog.set_level(logging.ERROR)
    with running_app(root) as client:
        assert registry.active_version() == good
        ready = client.get("/readyz").json()
        assert ready["checks"]["model"] == good and newer in ready["checks"]["model_fallback"]
        assert f'ringfence_model{{state="fallback",version="{good}"}} 1.0' in client.get("/metrics").text
        risk = client.get("/v1/accounts/a1/risk?refresh=true", headers=ADMIN)
        assert risk.status_code in (200, 404) and (risk.status_code == 404 or risk.json()["model_version"] == good)
    refused = [r.getMessage() for r in caplog.records if "refused at start-up" in r.getMessage()]
    assert len(refused) == 1 and newer in refused[0] and good in refused[0]


def test_with_no_good_version_left_the_heuristic_serves(data: tuple[Path, Registry, str]) -> None:
    root, registry, good = data
    _flip_byte(root / "models" / good / WEIGHTS)
    with running_app(root) as client:
        assert registry.active_version() is None
        ready = client.get("/readyz").json()
        assert ready["checks"]["model"] == "heuristic" and good in ready["checks"]["model_fallback"]


def _an_account(root: Path) -> str:
    store = SQLiteStore(root / "ringfence.db")
    try:
        return store.list_accounts("id", None, None, None, 1).data[0].id
    finally:
        store.close()


@pytest.mark.parametrize("fault", ["broken", "missing"])
def test_scores_under_a_broken_or_missing_model_answer_503(fault: str, data: tuple[Path, Registry, str]) -> None:
    root, registry, good = data
    account = _an_account(root)
    with running_app(root) as client:
        assert client.get(f"/v1/accounts/{account}/risk?refresh=true", headers=ADMIN).json()["model_version"] == good
        # when the active version breaks (or goes) under the running service, and the pointer moves
        if fault == "broken":
            _flip_byte(root / "models" / good / WEIGHTS)
        else:
            shutil.rmtree(root / "models" / good)
        (root / "models" / "ACTIVE").unlink()
        (root / "models" / "ACTIVE").write_text(good + "\n")
        # then scores and readiness say so, as the server's fault
        for response in (client.get(f"/v1/accounts/{account}/risk?refresh=true", headers=ADMIN),
                         client.post("/v1/accounts?score=sync", json={"id": "new-1"}, headers=ADMIN),
                         client.get("/readyz")):
            assert_error(response, 503, "model_unavailable")
