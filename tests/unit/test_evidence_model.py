"""The GNN's evidence path is monotone by construction; structure without timing ignores spreads and gaps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch

from ringfence.gnn.features import IDENTIFIER_DIM
from ringfence.gnn.graphdata import FRAUD_GAP_COL, assemble, raw_from_store
from ringfence.gnn.model import ModelConfig, RingGNN, build_gnn
from ringfence.gnn.testing import load_world
from ringfence.graph.sqlite_store import SQLiteStore

AS_OF = datetime(2027, 1, 1, tzinfo=UTC)


def _batch(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = SQLiteStore(tmp_path / "g.db")
    store.migrate()
    load_world(store, 500, seed=6)
    raw, _ = raw_from_store(store, None, AS_OF)
    store.close()
    raw.x_acc = torch.randn(len(raw.account_ids), 4).numpy()
    return assemble(raw, hub_cap=20, as_of=AS_OF)


@pytest.mark.parametrize("monotone", [True, False], ids=["shipped", "ring_gnn"])
def test_more_labelled_fraud_never_lowers_the_logit_whatever_the_weights(tmp_path: Path, monotone: bool) -> None:
    b = _batch(tmp_path)
    # one more labelled fraud at every evidence identifier, created before the account where it
    # lands earlier than the fraud seen there so far: evidence columns grow, the fraud gap shrinks
    lab = b.e_lab.clone()
    f = torch.expm1(lab[:, 0])
    legit = torch.expm1(lab[:, 1])
    ev = f > 0
    assert bool(ev.any())
    f2 = torch.where(ev, f + 1, f)
    lab[:, 0] = torch.log1p(f2)
    lab[:, 2] = f2 / (f2 + legit + 1)
    earlier = torch.rand(len(f), generator=torch.Generator().manual_seed(0)) < 0.5
    lab[:, FRAUD_GAP_COL] = torch.where(ev & earlier, lab[:, FRAUD_GAP_COL] - 1.5, lab[:, FRAUD_GAP_COL])
    # ... and one more labelled fraudster among the accounts bound to others (ring evidence)
    assert b.fraud_acc is not None
    fraud_acc = b.fraud_acc.copy()
    fraud_acc[int(torch.argmax(b.x_acc[:, 0]))] = True
    more = replace(b, e_lab=lab, fraud_acc=fraud_acc, ring_evidence=None)
    for seed in range(12):  # any weights, including negative raw evidence and gate parameters
        torch.manual_seed(seed)
        model = build_gnn(ModelConfig(4, IDENTIFIER_DIM, hidden=8, presence_monotone=monotone,
                                      signup_view=monotone, ring_evidence=True, evidence_prior=monotone)).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 2.0)
            before, after = model(b), model(more)
        assert bool((after >= before - 1e-5).all()), (seed, float((before - after).max()))
        assert bool((after > before + 1e-4).any())
        assert bool((model.evidence_weights() >= 0).all())


def test_without_structural_timing_spreads_and_gaps_do_not_move_structure(tmp_path: Path) -> None:
    b = _batch(tmp_path)
    torch.manual_seed(1)
    with torch.no_grad():
        timed = RingGNN(ModelConfig(4, IDENTIFIER_DIM, hidden=8, dropout=0.0)).eval()
        untimed = RingGNN(ModelConfig(4, IDENTIFIER_DIM, hidden=8, dropout=0.0, structural_timing=False)).eval()
        untimed.load_state_dict(timed.state_dict())
        x_id = b.x_id.clone()
        x_id[:, 5] += 3.0  # every identifier looks spread out
        lab_acc = b.lab_acc.clone()
        lab_acc[:, [1, 4]] += 2.0  # and every link late
        moved = replace(b, x_id=x_id, lab_acc=lab_acc)
        assert not torch.allclose(timed.structure_logit(b), timed.structure_logit(moved))
        torch.testing.assert_close(untimed.structure_logit(b), untimed.structure_logit(moved))
