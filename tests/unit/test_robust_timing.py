"""Timing features have bounded influence: one added account cannot make a ring look spread out."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.gnn.graphdata import co_created, robust_timing

DAY = 86_400.0


@settings(max_examples=200, deadline=None)
@given(st.integers(4, 30), st.floats(0, 5 * DAY), st.floats(-1e9, 1e9), st.integers(0, 2**31 - 1))
def test_one_added_account_moves_no_ring_timing_beyond_the_rings_own_range(
        n: int, burst: float, newcomer: float, seed: int) -> None:
    # given a ring of n accounts created within `burst` seconds, all on one identifier (and in the cap)
    rng = np.random.default_rng(seed)
    created = np.r_[1.7e9 + rng.random(n) * burst, 1.7e9 + newcomer]
    members = np.arange(n)
    spread0, gap0 = robust_timing(created, members, np.zeros(n, dtype=np.int64), members,
                                  np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool), 1)
    # when one account with any creation time joins it
    everyone = np.arange(n + 1)
    zeros = np.zeros(n + 1, dtype=np.int64)
    spread1, gap1 = robust_timing(created, everyone, zeros, everyone, zeros, np.ones(n + 1, dtype=bool), 1)
    # then the identifier's spread and every old member's gap stay within the ring's own range
    span = float(np.ptp(created[:n]))
    assert spread0[0] <= span + 1e-6 and spread1[0] <= span + 1e-6
    assert np.all(gap0 <= span + 1e-6) and np.all(gap1[:n] <= span + 1e-6)
    # (the standard deviation this replaced would have grown with the newcomer's distance)


def test_gap_is_to_the_other_accounts_and_outside_the_cap_to_all_of_them() -> None:
    created = np.array([0.0, 10.0, 20.0, 1000.0])
    m_acc, m_id = np.array([0, 1, 2]), np.array([0, 0, 0])
    e_acc, e_id = np.array([0, 1, 2, 3]), np.array([0, 0, 0, 0])
    in_cap = np.array([True, True, True, False])
    spread, gap = robust_timing(created, m_acc, m_id, e_acc, e_id, in_cap, 1)
    assert spread[0] == 10.0  # median 10, deviations 10, 0, 10
    assert gap.tolist() == [15.0, 0.0, 15.0, 990.0]  # leave-self-out medians 15, 10, 5; the last sees all three


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(1.6e9, 1.6e9 + 60 * DAY)), min_size=1, max_size=40),
       st.integers(0, 2**31 - 1), st.sampled_from([2 * DAY, 14 * DAY]))
def test_co_created_counts_the_identifiers_other_accounts_within_the_window(
        links: list[tuple[int, float]], seed: int, window: float) -> None:
    # given accounts, one link each to one of 4 identifiers, some links outside the hub cap
    rng = np.random.default_rng(seed)
    e_id = np.array([i for i, _ in links], dtype=np.int64)
    created = np.array([t for _, t in links])
    e_acc = np.arange(len(links))
    in_cap = rng.random(len(links)) < 0.8
    m_acc, m_id = e_acc[in_cap], e_id[in_cap]
    counts = co_created(created, m_acc, m_id, e_acc, e_id, in_cap, [window])[:, 0]
    # then each link counts the identifier's other messaging accounts within the window (whole seconds)
    sec = np.floor(created)
    expected = [sum(1 for b in m_acc if m_id[list(m_acc).index(b)] == e_id[a] and b != a
                    and abs(sec[b] - sec[a]) <= np.floor(window)) for a in e_acc]
    assert counts.tolist() == expected
    # and an added account, at any time, lowers no count
    late = np.r_[created, rng.uniform(1.6e9, 1.6e9 + 60 * DAY)]
    new = len(links)
    after = co_created(late, np.r_[m_acc, new], np.r_[m_id, e_id[0]], np.r_[e_acc, new], np.r_[e_id, e_id[0]],
                       np.r_[in_cap, True], [window])[:, 0]
    assert np.all(after[:new] >= counts)
