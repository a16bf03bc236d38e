"""No account added later can lower another account's score (issue #13): a fraudster adds accounts.

`MonotoneRingGNN` and the presence-monotone tree features hold it by construction, whatever the
weights; the earlier `RingGNN` (means over an identifier's accounts) does not, which shows the
check can fail.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import torch

from ringfence.gnn.baselines import hop1_features, hop1_monotone
from ringfence.gnn.features import IDENTIFIER_DIM
from ringfence.gnn.graphdata import (
    COHESION_DIM,
    RING_EVIDENCE_DIM,
    GraphBatch,
    RawGraph,
    account_cohesion,
    account_ring_evidence,
    assemble,
    raw_from_store,
)
from ringfence.gnn.model import ModelConfig, RingGNN, build_gnn
from ringfence.gnn.testing import load_world
from ringfence.graph.sqlite_store import SQLiteStore

AS_OF = datetime(2027, 1, 1, tzinfo=UTC)
HUB_CAP = 40
DA = 4
# the presence-monotone trees with every input switched on
TREES = ModelConfig(DA, IDENTIFIER_DIM, structural_timing=False, presence_monotone=True, signup_view=True,
                    cohesion=True, ring_evidence=True, evidence_prior=True, label_share=True, legit_dilutes=True)


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> RawGraph:
    store = SQLiteStore(Path(tmp_path_factory.mktemp("presence")) / "g.db")
    store.migrate()
    load_world(store, 500, seed=6)
    raw, _ = raw_from_store(store, None, AS_OF)
    store.close()
    raw.x_acc = np.random.default_rng(0).normal(size=(len(raw.account_ids), DA)).astype(np.float32)
    return raw


def with_added(raw: RawGraph, seed: int, n_new: int = 6) -> RawGraph:
    """`raw` plus `n_new` unlabelled accounts signed up now (random features), each linked to 1-3
    identifiers that stay under the hub cap: shared ones, and one held by a single account (whose
    holder becomes its first of two)."""
    rng = np.random.default_rng(seed)
    shared = np.flatnonzero((raw.id_degree >= 2) & (raw.id_degree + n_new <= HUB_CAP))
    sole = np.flatnonzero(raw.id_degree == 1)
    na = len(raw.account_ids)
    created = np.full(n_new, AS_OF.timestamp())
    new_acc, new_id = [], []
    for k in range(n_new):
        ids = rng.choice(shared, size=int(rng.integers(1, 4)), replace=False)
        if k == 0:
            ids = np.r_[ids[:-1], sole[seed % len(sole)]]
        new_acc += [na + k] * len(ids)
        new_id += ids.tolist()
    e_acc, e_id = np.asarray(new_acc, dtype=np.int64), np.asarray(new_id, dtype=np.int64)
    return dataclasses.replace(
        raw,
        account_ids=raw.account_ids + [f"zz-new-{k:02d}" for k in range(n_new)],  # still sorted
        x_acc=np.concatenate([raw.x_acc, rng.normal(scale=3.0, size=(n_new, DA)).astype(np.float32)]),
        label=np.concatenate([raw.label, np.full(n_new, -1, dtype=raw.label.dtype)]),
        created=np.concatenate([raw.created, created]),
        id_degree=raw.id_degree + np.bincount(e_id, minlength=len(raw.id_degree)),
        e_acc=np.concatenate([raw.e_acc, e_acc]),
        e_id=np.concatenate([raw.e_id, e_id]),
        e_first=np.concatenate([raw.e_first, created[e_acc - na]]),
    )


def logits(model: RingGNN, b: GraphBatch, n: int) -> torch.Tensor:
    with torch.no_grad():
        return model(b)[:n]


def random_model(presence_monotone: bool, seed: int) -> RingGNN:
    torch.manual_seed(seed)
    model = build_gnn(ModelConfig(DA, IDENTIFIER_DIM, hidden=8, dropout=0.0, structural_timing=False,
                                  presence_monotone=presence_monotone, signup_view=presence_monotone,
                                  cohesion=presence_monotone, ring_evidence=True,
                                  evidence_prior=presence_monotone)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 1.0)  # any weights: the guarantee may not depend on training
    return model


@pytest.mark.parametrize("seed", range(5))
def test_added_accounts_never_lower_an_old_accounts_logit(raw: RawGraph, seed: int) -> None:
    n = len(raw.account_ids)
    before_b = assemble(raw, HUB_CAP, AS_OF)
    after_b = assemble(with_added(raw, seed), HUB_CAP, AS_OF)
    model = random_model(True, seed)
    before, after = logits(model, before_b, n), logits(model, after_b, n)
    tol = 1e-4 + 1e-6 * before.abs()  # float32 rounding of logits in the thousands (random weights)
    assert bool((after >= before - tol).all()), float((before - after).max())
    assert bool((after > before + 1e-4).any())  # the additions reached someone


def test_the_earlier_mean_model_can_be_lowered_by_an_added_account(raw: RawGraph) -> None:
    n = len(raw.account_ids)
    before_b, after_b = assemble(raw, HUB_CAP, AS_OF), assemble(with_added(raw, 0), HUB_CAP, AS_OF)
    model = random_model(False, 0)
    assert float((logits(model, before_b, n) - logits(model, after_b, n)).max()) > 1e-3


@pytest.mark.parametrize("seed", range(3))
def test_tree_features_only_rise_where_constrained_and_are_fixed_elsewhere(raw: RawGraph, seed: int) -> None:
    n = len(raw.account_ids)
    before = hop1_features(assemble(raw, HUB_CAP, AS_OF), TREES)
    after = hop1_features(assemble(with_added(raw, seed), HUB_CAP, AS_OF), TREES)[:n]
    constraint = np.asarray(hop1_monotone(TREES, 0, 0))
    assert len(constraint) == before.shape[1]
    rising, falling, fixed = constraint == 1, constraint == -1, constraint == 0
    assert np.all(after[:, rising] >= before[:, rising] - 1e-5)
    assert np.all(after[:, falling] <= before[:, falling] + 1e-5)
    np.testing.assert_allclose(after[:, fixed], before[:, fixed], atol=1e-5)
    assert np.any(after[:, rising] > before[:, rising] + 1e-5)


def _brute_force_signup_view(raw: RawGraph, prior: np.ndarray) -> int:
    """Per edge, the hub-capped accounts of its identifier other than its own linked no later than
    it (ties count as seen: links recorded together); returns how many edges saw somebody."""
    key = np.lexsort((raw.e_acc, raw.e_first, raw.e_id))
    rank = np.empty(len(key), dtype=np.int64)
    for i in np.unique(raw.e_id):
        run = key[raw.e_id[key] == i]
        rank[run] = np.arange(len(run))
    checked = 0
    for e in range(len(raw.e_acc)):
        same = np.flatnonzero((raw.e_id == raw.e_id[e]) & (rank < HUB_CAP) & (raw.e_first <= raw.e_first[e])
                              & (np.arange(len(raw.e_acc)) != e))
        assert prior[e, -1] == pytest.approx(np.log1p(len(same)), abs=1e-6)
        want = raw.x_acc[raw.e_acc[same]].mean(axis=0) if len(same) else np.zeros(DA)
        np.testing.assert_allclose(prior[e, :-1], want, atol=1e-5)
        checked += len(same) > 0
    return checked


def test_the_signup_view_is_what_each_link_found_before_it(raw: RawGraph) -> None:
    b = assemble(raw, HUB_CAP, AS_OF)
    assert b.e_prior is not None
    prior = b.e_prior.numpy()
    assert _brute_force_signup_view(raw, prior) > 100  # shared identifiers were seen, not just first links
    # ... and accounts added later change nobody's
    after = assemble(with_added(raw, 1), HUB_CAP, AS_OF).e_prior
    assert after is not None
    np.testing.assert_array_equal(after.numpy()[: len(raw.e_acc)], prior)


def test_a_backfilled_graph_sees_the_accounts_recorded_with_it(raw: RawGraph) -> None:
    """A tenant's history imported with one timestamp (every Tolokers link): each link saw the
    identifier's other accounts, not nobody (strict "before" gave every account an empty view)."""
    flat = dataclasses.replace(raw, e_first=np.full_like(raw.e_first, raw.e_first.min()))
    prior = assemble(flat, HUB_CAP, AS_OF).e_prior
    assert prior is not None
    shared = raw.id_degree[raw.e_id] >= 2
    assert np.all(prior.numpy()[shared, -1] > 0)
    assert _brute_force_signup_view(flat, prior.numpy()) == int(shared.sum())


def test_cohesion_counts_the_accounts_bound_by_several_identifiers(raw: RawGraph) -> None:
    b = assemble(raw, HUB_CAP, AS_OF)
    coh = account_cohesion(b)
    assert coh.shape == (len(raw.account_ids), COHESION_DIM)
    got = np.expm1(coh.numpy().astype(np.float64))
    # brute force over dicts: P_ab = a's identifiers without labelled fraud where b is a messaging account
    lab = b.e_lab.numpy()
    senders: dict[int, set[int]] = {}
    for acc, ident in zip(b.m_acc.tolist(), b.m_id.tolist(), strict=True):
        senders.setdefault(ident, set()).add(acc)
    pairs: dict[int, dict[int, int]] = {}
    for acc, ident, f in zip(b.e_acc.tolist(), b.e_id.tolist(), lab[:, 0].tolist(), strict=True):
        if f > 0:
            continue
        for other in senders.get(ident, set()) - {acc}:
            pairs.setdefault(acc, {})[other] = pairs.setdefault(acc, {}).get(other, 0) + 1
    want = np.zeros_like(got)
    for acc, counts in pairs.items():
        p = np.array(list(counts.values()))
        want[acc] = [p.max(), (p >= 2).sum(), (p >= 3).sum()]
    np.testing.assert_allclose(got, want, atol=1e-3)
    assert want[:, 1].max() >= 1  # the world has accounts bound by two identifiers


def test_leave_one_out_copies_carry_the_cohesion_of_the_account_without_that_link(raw: RawGraph) -> None:
    from ringfence.gnn.score import _with_loo_copies

    b = assemble(raw, HUB_CAP, AS_OF, finalized=False)
    assert b.cohesion is None
    pre = assemble(raw, HUB_CAP, AS_OF)
    seed = int(np.argmax(account_cohesion(pre)[:, 1].numpy()))  # an account bound to others by two identifiers
    aug, loo = _with_loo_copies(b, np.array([seed]))
    assert aug.cohesion is None  # not carried over from the base batch: computed with the copies
    aug_cohesion = account_cohesion(aug)
    copies, idents = loo[seed]
    drop_edges = np.flatnonzero(raw.e_acc == seed)
    assert len(copies) == len(drop_edges) >= 2
    for copy, ident in zip(copies, idents, strict=True):
        keep = ~((raw.e_acc == seed) & (raw.e_id == ident))
        without = dataclasses.replace(raw, e_acc=raw.e_acc[keep], e_id=raw.e_id[keep], e_first=raw.e_first[keep],
                                      id_degree=np.bincount(raw.e_id[keep], minlength=len(raw.id_degree)))
        fresh = assemble(without, HUB_CAP, AS_OF)
        np.testing.assert_allclose(aug_cohesion[copy].numpy(), account_cohesion(fresh)[seed].numpy(), atol=1e-6)


def test_cohesion_in_chunks_equals_cohesion_in_one_go(raw: RawGraph) -> None:
    from ringfence.gnn.graphdata import cohesion

    b = assemble(raw, HUB_CAP, AS_OF)
    args = (b.e_acc.numpy(), b.e_id.numpy(), b.e_lab.numpy(), b.m_acc.numpy(), b.m_id.numpy(), len(raw.account_ids))
    whole = cohesion(*args)
    assert whole[:, 1].max() > 0
    np.testing.assert_array_equal(cohesion(*args, chunk_pairs=50), whole)


def _bound_to_fraud(b: GraphBatch, fraud: np.ndarray) -> np.ndarray:
    """Brute force over dicts: per account a, #{labelled fraud b ≠ a: Q_ab ≥ 2} and #{... ≥ 3}, Q_ab
    the number of a's identifiers where b is a messaging account."""
    senders: dict[int, set[int]] = {}
    for acc, ident in zip(b.m_acc.tolist(), b.m_id.tolist(), strict=True):
        if fraud[acc]:
            senders.setdefault(ident, set()).add(acc)
    out = np.zeros((b.x_acc.shape[0], RING_EVIDENCE_DIM))
    for acc in range(b.x_acc.shape[0]):
        q: dict[int, int] = {}
        for ident in b.e_id[b.e_acc == acc].tolist():
            for other in senders.get(ident, set()) - {acc}:
                q[other] = q.get(other, 0) + 1
        counts = np.array(list(q.values()) or [0])
        out[acc] = [(counts >= 2).sum(), (counts >= 3).sum()]
    return out


def test_ring_evidence_counts_labelled_fraud_bound_by_several_identifiers(raw: RawGraph) -> None:
    b = assemble(raw, HUB_CAP, AS_OF)
    got = np.expm1(account_ring_evidence(b).numpy().astype(np.float64))
    want = _bound_to_fraud(b, raw.label == 1)
    np.testing.assert_allclose(got, want, atol=1e-3)
    assert want[:, 0].max() >= 2 and want[:, 1].max() >= 1  # ring members bound to labelled accomplices
    # never the account's own label: a labelled fraudster without labelled accomplices has none
    lone = np.flatnonzero((raw.label == 1) & (want[:, 0] == 0))
    assert len(lone) and np.all(got[lone] == 0)


def test_ring_evidence_only_rises_with_fraud_labels_and_added_accounts(raw: RawGraph) -> None:
    n = len(raw.account_ids)
    before = account_ring_evidence(assemble(raw, HUB_CAP, AS_OF)).numpy()
    # one more labelled fraudster, picked where it binds others: their evidence rises, nobody's falls
    b = assemble(raw, HUB_CAP, AS_OF)
    bound = _bound_to_fraud(b, raw.label != 1)[:, 0] * (raw.label == -1)
    newly = int(np.argmax(bound))
    assert bound[newly] > 0
    labelled = dataclasses.replace(raw, label=np.where(np.arange(n) == newly, 1, raw.label).astype(raw.label.dtype))
    after = account_ring_evidence(assemble(labelled, HUB_CAP, AS_OF)).numpy()
    assert np.all(after >= before) and np.any(after > before)
    np.testing.assert_array_equal(after[newly], before[newly])  # its own label is not its evidence
    # accounts added later only add pairs
    for seed in range(3):
        grown = account_ring_evidence(assemble(with_added(raw, seed), HUB_CAP, AS_OF)).numpy()[:n]
        assert np.all(grown >= before)


def test_leave_one_out_copies_carry_the_ring_evidence_of_the_account_without_that_link(raw: RawGraph) -> None:
    from ringfence.gnn.score import _with_loo_copies

    pre = assemble(raw, HUB_CAP, AS_OF)
    seed = int(np.argmax(account_ring_evidence(pre)[:, 0].numpy()))  # bound to labelled fraud by 2+ identifiers
    aug, loo = _with_loo_copies(assemble(raw, HUB_CAP, AS_OF, finalized=False), np.array([seed]))
    assert aug.ring_evidence is None
    aug_ev = account_ring_evidence(aug)
    copies, idents = loo[seed]
    assert len(copies) >= 2
    dropped_any = False
    for copy, ident in zip(copies, idents, strict=True):
        keep = ~((raw.e_acc == seed) & (raw.e_id == ident))
        without = dataclasses.replace(raw, e_acc=raw.e_acc[keep], e_id=raw.e_id[keep], e_first=raw.e_first[keep],
                                      id_degree=np.bincount(raw.e_id[keep], minlength=len(raw.id_degree)))
        fresh = account_ring_evidence(assemble(without, HUB_CAP, AS_OF))[seed].numpy()
        np.testing.assert_allclose(aug_ev[copy].numpy(), fresh, atol=1e-6)
        dropped_any |= bool(np.any(fresh < aug_ev[seed].numpy()))
    assert dropped_any  # some identifier carried the binding


def test_ring_evidence_in_chunks_equals_ring_evidence_in_one_go(raw: RawGraph) -> None:
    from ringfence.gnn.graphdata import ring_evidence

    b = assemble(raw, HUB_CAP, AS_OF)
    assert b.fraud_acc is not None
    args = (b.e_acc.numpy(), b.e_id.numpy(), b.fraud_acc, b.m_acc.numpy(), b.m_id.numpy(), len(raw.account_ids))
    whole = ring_evidence(*args)
    assert whole[:, 0].max() > 0
    np.testing.assert_array_equal(ring_evidence(*args, chunk_pairs=20), whole)


def test_a_link_to_labelled_fraud_lowers_no_evidence_column_of_the_trees(raw: RawGraph) -> None:
    """The +1 label-evidence columns (EVIDENCE_NAMES, then ring evidence, the fraud count per account an
    evidence identifier held at link time, the neighbours' labelled fraud share) of an account that
    links to one more identifier with labelled fraud only rise."""
    from ringfence.gnn.baselines import EVIDENCE_NAMES

    b = assemble(raw, HUB_CAP, AS_OF)
    before = hop1_features(b, TREES)
    cols = np.r_[np.arange(len(EVIDENCE_NAMES)), before.shape[1] - np.arange(1, RING_EVIDENCE_DIM + 3)]
    # identifiers with labelled fraud *and* legit, joined by accounts that already see labelled fraud:
    # where a share over all labelled accounts would fall
    fraud_ids = np.flatnonzero((b.fraud_at > 0) & (b.legit_at > 0) & (raw.id_degree < HUB_CAP))
    seeing = np.unique(b.e_acc.numpy()[b.e_lab.numpy()[:, 0] > 0])
    rng = np.random.default_rng(3)
    rose = 0
    for i in rng.choice(fraud_ids, size=12, replace=False).tolist():
        holders = set(raw.e_acc[raw.e_id == i].tolist())
        a = int(rng.choice([x for x in seeing.tolist() if x not in holders]))
        linked = dataclasses.replace(raw, e_acc=np.r_[raw.e_acc, a], e_id=np.r_[raw.e_id, i],
                                     e_first=np.r_[raw.e_first, AS_OF.timestamp()],
                                     id_degree=raw.id_degree + (np.arange(len(raw.id_degree)) == i))
        after = hop1_features(assemble(linked, HUB_CAP, AS_OF), TREES)
        assert np.all(after[a, cols] >= before[a, cols] - 1e-6), (i, a)
        rose += bool(np.any(after[a, cols] > before[a, cols] + 1e-6))
    assert rose == 12


def test_a_hubs_labelled_fraud_is_weighed_against_its_labelled_legit_users() -> None:
    """The neighbours' labelled fraud share (the trees' last column) of an account whose one shared
    identifier is a hub: 20 labelled fraudsters and 70 labelled legit users there read about 0.18 by
    identifier shares (about 0.95 by counts, where the hub's legit users were left out so that no
    link to fraud could lower it); a ring's device with 2 fraudsters and nothing else still reads
    more, and both stay monotone (the previous test)."""
    n_hub, n_fraud, n_legit = 92, 20, 70
    # accounts 0..91 on a hub device (identifier 1); account 0 also holds its own card (identifier 0);
    # accounts 92..94 on a ring's device (identifier 2): 93 and 94 labelled fraud
    e_acc = np.r_[np.arange(n_hub), 0, 92, 93, 94]
    e_id = np.r_[np.ones(n_hub, int), 0, 2, 2, 2]
    label = np.full(95, -1, np.int8)
    label[1:1 + n_fraud] = 1
    label[1 + n_fraud:1 + n_fraud + n_legit] = 0
    label[[93, 94]] = 1
    t0 = AS_OF.timestamp() - 86_400.0 * 30
    raw = RawGraph([f"a{k:03d}" for k in range(95)], np.zeros((95, DA), np.float32), label,
                   np.full(95, t0), [("card", "own"), ("device", "hub"), ("device", "ring")],
                   np.array([0, 1, 1]), np.array([1, n_hub, 3]), e_acc, e_id,
                   t0 + np.arange(len(e_acc), dtype=np.float64))
    b = assemble(raw, 200, AS_OF)
    diluted = hop1_features(b, TREES)
    by_count = hop1_features(b, dataclasses.replace(TREES, legit_dilutes=False))
    hub_share = n_fraud / (n_fraud + n_legit)
    assert diluted[0, -1] == pytest.approx(hub_share / (hub_share + 1.0), abs=1e-6)
    assert by_count[0, -1] == pytest.approx(n_fraud / (n_fraud + 1.0), abs=1e-6)
    assert diluted[92, -1] == pytest.approx(1.0 / 2.0, abs=1e-6) and diluted[92, -1] > diluted[0, -1]
    # the evidence prior (fraud per account the identifier held at link time): account 0 linked first,
    # to an empty hub, which now has 90 labelled accounts
    assert by_count[0, -2] == pytest.approx(n_fraud / 1.0, abs=1e-5)
    assert diluted[0, -2] == pytest.approx(n_fraud / (n_fraud + n_legit + 1.0), abs=1e-6)
    assert diluted[92, -2] == pytest.approx(2.0 / 3.0, abs=1e-6)
