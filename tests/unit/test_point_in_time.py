"""Train as we serve: a point-in-time training example equals the online score at sign-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ringfence.core.settings import Settings
from ringfence.gnn.graphdata import assemble, raw_from_arrays
from ringfence.gnn.pointintime import SIGNUP_WINDOW_S, point_in_time
from ringfence.gnn.score import Scorer
from ringfence.gnn.testing import load_world
from ringfence.gnn.train import TrainConfig, data_as_of, train
from ringfence.graph.arrays import load_arrays
from ringfence.graph.loader import load_records
from ringfence.graph.sqlite_store import SQLiteStore


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _as_of_then(records: list[dict[str, Any]], t: datetime) -> list[dict[str, Any]]:
    """The records as the store held them at `t`: accounts created, links first seen and labels (dated at
    creation by the loader) by then."""
    out = []
    for r in records:
        if parse_rfc3339(r["created_at"]) > t:
            continue
        links = [x for x in r["links"] if parse_rfc3339(x["seen_at"]) <= t]
        out.append({**r, "links": links})
    return out


@pytest.mark.parametrize("seed", [11])
def test_point_in_time_example_equals_the_online_score_at_sign_up(tmp_path: Path, seed: int) -> None:
    # given a trained model and a world whose late ring joiners share identifiers with labelled fraud
    store = SQLiteStore(tmp_path / "g.db")
    store.migrate()
    records = load_world(store, 1200, seed=seed)
    settings = Settings(data_dir=tmp_path / "models")
    train(store, settings, seed=3, config=TrainConfig(hidden=16, max_epochs=4, patience=4))
    scorer = Scorer.load(settings)
    assert scorer.predictor is not None
    g = load_arrays(store, attributes=True)
    as_of = data_as_of(g)
    full = raw_from_arrays(g, as_of, time_filter=True)
    index = {a: k for k, a in enumerate(full.account_ids)}
    # labelled fraud ring members (their sign-up saw earlier members) and some legit accounts
    ring = [r["id"] for r in records if r["truth"]["kind"] == "ring" and r["label"] == "fraud"]
    legit = [r["id"] for r in records if r["truth"]["kind"] == "household" and r["label"] is not None]
    picks = ring[-3:] + legit[:2]
    examples = np.array([index[a] for a in picks])
    assert g.attributes is not None
    pit = point_in_time(full, g.labelled_at, scorer.schema, g.attributes, examples, settings.hub_cap)
    batch = assemble(pit.raw, settings.hub_cap, as_of)
    offline = scorer.predictor.predict(batch, pit.rows)
    store.close()
    # when each account is scored online on a store holding only what existed at its sign-up
    online, evidence = [], 0
    for a, t_s in zip(picks, pit.times.tolist(), strict=True):
        t = datetime.fromtimestamp(t_s, UTC)
        assert t == parse_rfc3339(records[int(index[a])]["created_at"]) + timedelta(seconds=SIGNUP_WINDOW_S)
        then = SQLiteStore(tmp_path / f"then-{a}.db")
        then.migrate()
        for _ in load_records(then, _as_of_then(records, t)):
            pass
        score = scorer.score_accounts(then, [a], as_of=t)[0]
        evidence += sum(r["flagged_accounts"] > 0 for r in score.reasons)
        online.append(score.risk)
        then.close()
    # then the training example is exactly what the onboarding call scores (and the check is not vacuous)
    assert evidence > 0
    np.testing.assert_allclose(offline, online, rtol=1e-5, atol=1e-6)
