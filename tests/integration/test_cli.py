"""`ringfence generate | ringfence load` on both backends, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ringfence.core.settings import Settings
from ringfence.graph.factory import open_store
from tests.contract.snapshots import snapshot

RINGFENCE = str(Path(sys.executable).with_name("ringfence"))


def _pipe(env: dict[str, str], accounts: int) -> str:
    result = subprocess.run(
        f"{RINGFENCE} generate --accounts {accounts} --seed 1 | {RINGFENCE} load",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr


@pytest.mark.parametrize("backend", ["sqlite", "neo4j"])
def test_generate_pipe_load_twice_changes_nothing(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}" if backend == "sqlite" else request.getfixturevalue("neo4j_url")
    env = {**os.environ, "RINGFENCE_GRAPH_URL": url, "RINGFENCE_DATA_DIR": str(tmp_path)}
    store = open_store(Settings(graph_url=url))
    store.reset()
    # when
    first_log = _pipe(env, 2000)
    first = snapshot(store, chunk=1000, labelled_only=True)
    _pipe(env, 2000)
    # then
    assert "loaded 2000 accounts" in first_log
    assert store.count_accounts() == 2000
    assert len(first[1]) > 2000  # links
    assert sum(1 for history in first[2].values() if history) > 0  # labels
    assert snapshot(store, chunk=1000, labelled_only=True) == first
    store.close()
