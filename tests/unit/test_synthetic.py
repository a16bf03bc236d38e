"""The synthetic world: deterministic, valid input for `ringfence load`, and shaped as promised.

Structure is checked on the records as written (the public format), not on the generator's columns.
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from datetime import datetime
from itertools import combinations
from typing import Any

import numpy as np
import pytest

from ringfence.core.cards import contains_pan
from ringfence.graph.loader import account_from_record
from ringfence.graph.synthetic import WorldParams, generate, hex_tokens, identifier_tokens, params_for, write_jsonl
from ringfence.graph.validation import ID_PATTERN

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
Record = dict[str, Any]


class World:
    """Records plus the indexes the checks need."""

    def __init__(self, params: WorldParams) -> None:
        self.params = params
        self.records: list[Record] = list(generate(params))
        self.users: dict[str, set[int]] = defaultdict(set)  # identifier -> account positions
        self.groups: dict[str, list[int]] = defaultdict(list)  # "R3" -> positions
        for i, r in enumerate(self.records):
            for link in r["links"]:
                self.users[f'{link["type"]}/{link["id"]}'].add(i)
            if r["truth"]["group"]:
                self.groups[r["truth"]["group"]].append(i)

    def ids(self, i: int) -> set[str]:
        return {f'{link["type"]}/{link["id"]}' for link in self.records[i]["links"]}

    def of_kind(self, kind: str) -> dict[str, list[int]]:
        return {g: m for g, m in self.groups.items() if self.records[m[0]]["truth"]["kind"] == kind}

    def main(self, members: list[int]) -> list[int]:
        return [i for i in members if not self.records[i]["truth"]["late"]]


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def small() -> World:
    return World(WorldParams(accounts=3_000, seed=1))


@pytest.fixture(scope="module")
def mid() -> World:
    return World(WorldParams(accounts=20_000, seed=1))


def _text(params: WorldParams) -> str:
    out = io.StringIO()
    assert write_jsonl(params, out) == params.accounts
    return out.getvalue()


def test_same_params_give_identical_bytes_and_other_seeds_differ() -> None:
    first = _text(WorldParams(accounts=3_000, seed=1))
    assert first == _text(WorldParams(accounts=3_000, seed=1))
    assert first != _text(WorldParams(accounts=3_000, seed=2))
    assert first != _text(WorldParams.second(seed=1, accounts=3_000))


def test_records_are_the_written_lines_as_compact_json(small: World) -> None:
    lines = _text(small.params).splitlines()
    assert len(lines) == len(small.records) == 3_000
    for line, record in zip(lines, small.records, strict=True):
        assert json.dumps(record, separators=(",", ":")) == line
        assert list(record) == ["id", "created_at", "attributes", "links", "label", "truth"]
        assert list(record["truth"]) == ["fraud", "group", "kind", "late"]


def test_ids_are_valid_and_never_card_numbers(small: World) -> None:
    for r in small.records:  # what `ringfence load` checks (ids, raw card numbers, limits)
        assert len(account_from_record(r).links) == len(r["links"])
    pattern = re.compile(ID_PATTERN)
    ids = [r["id"] for r in small.records] + [link["id"] for r in small.records for link in r["links"]]
    assert len({r["id"] for r in small.records}) == len(small.records)
    for value in ids:
        assert pattern.match(value), value
        assert not contains_pan(value), value
    # given a fingerprint whose hex digits are all decimal and a Luhn-valid card number
    amex_test_number = "378282246310005"
    assert contains_pan(f"card:{amex_test_number}")
    # then the rendered token still breaks the digit run
    (token,) = hex_tokens(np.array([int(amex_test_number, 16)], np.uint64))
    assert token.startswith(amex_test_number[:8]) and not contains_pan(f"card:{token}")
    assert max(len(run) for run in re.findall(r"\d+", token)) <= 8


def test_identifier_tokens_are_distinct_and_seed_dependent() -> None:
    tokens = identifier_tokens(np.arange(200_000), salt=7)
    assert len(set(tokens)) == len(tokens)
    assert all(re.fullmatch(r"[0-9a-f]{16}", t) for t in tokens[:1000])
    assert identifier_tokens(np.arange(100), salt=8) != tokens[:100]


def test_timestamps_are_rfc3339_utc_and_links_follow_creation(small: World) -> None:
    for r in small.records:
        assert RFC3339_UTC.match(r["created_at"])
        for link in r["links"]:
            assert RFC3339_UTC.match(link["seen_at"])
            assert link["seen_at"] >= r["created_at"]  # same format, so text order is time order
            assert link["type"] in ("card", "device", "bank_account") and link["id"].startswith(link["type"] + ":")
    main = [r["created_at"] for r in small.records if not r["truth"]["late"]]
    assert main == sorted(main)


def test_attributes_mix_types_and_go_missing_at_realistic_rates(small: World) -> None:
    counts: dict[str, int] = defaultdict(int)
    types: dict[str, set[type]] = defaultdict(set)
    for r in small.records:
        assert 6 <= len(r["attributes"]) <= 10
        for name, value in r["attributes"].items():
            counts[name] += 1
            types[name].add(type(value))
    assert 6 <= len(counts) <= 10
    assert all(len(t) == 1 or t == {int, float} for t in types.values())
    assert {str, bool} <= set().union(*types.values()) and {int, float} & set().union(*types.values())
    present = sorted(c / len(small.records) for c in counts.values())
    assert present[0] < 0.9 and present[-1] == 1.0  # some attributes often missing, some never
    assert sum(p < 1.0 for p in present) >= 4


def test_rings_have_sizes_in_range_bursts_and_shared_but_uneven_identifiers(small: World) -> None:
    rings = small.of_kind("ring")
    lo, hi = small.params.ring_size
    assert len(rings) >= 5
    pair_without_shared = False
    for members in rings.values():
        main = small.main(members)
        assert lo <= len(main) <= hi
        created = [_ts(small.records[i]["created_at"]) for i in main]
        assert (max(created) - min(created)).total_seconds() <= 4 * 86_400  # a burst
        shared = {k for i in main for k in small.ids(i) if len(small.users[k] & set(main)) >= 2}
        for i in main:  # every member shares something with another member
            assert small.ids(i) & shared
        if len(main) >= 4:
            assert len(shared) >= 2
        pair_without_shared |= any(not small.ids(i) & small.ids(j) for i, j in combinations(main, 2))
    assert pair_without_shared
    assert all(small.records[i]["truth"]["fraud"] for m in rings.values() for i in m)


def test_households_and_agencies_share_identifiers_like_rings_but_are_legit(small: World) -> None:
    households, agencies = small.of_kind("household"), small.of_kind("agency")
    assert len(households) >= 50 and len(agencies) >= 3
    for groups, sizes, types in ((households, (2, 4), {"device", "card"}), (agencies, (5, 20), {"bank_account"})):
        for members in groups.values():
            assert sizes[0] <= len(members) <= sizes[1]
            common = set.intersection(*(small.ids(i) for i in members))
            assert any(k.split("/")[0] in types for k in common)
            assert not any(small.records[i]["truth"]["fraud"] for i in members)
    # agencies grow over months, not in a burst
    spans = [
        (max(t) - min(t)).days for t in
        ([_ts(small.records[i]["created_at"]) for i in m] for m in agencies.values())
    ]
    assert np.median(spans) > 30


def test_ordinary_accounts_have_own_identifiers_some_reused(small: World) -> None:
    ordinary = [i for i, r in enumerate(small.records) if r["truth"]["kind"] == "legit" and not r["truth"]["late"]]
    cards = [sum(link["type"] == "card" for link in small.records[i]["links"]) for i in ordinary]
    devices = [sum(link["type"] == "device" for link in small.records[i]["links"]) for i in ordinary]
    assert min(cards) >= 1 and min(devices) >= 1 and np.mean(cards) < 2.5
    reused = [
        i for i in ordinary
        if any(all(small.records[j]["truth"]["kind"] == "legit" for j in small.users[k]) and len(small.users[k]) == 2
               for k in small.ids(i))
    ]
    assert 0 < len(reused) < 0.2 * len(ordinary)


def test_hubs_reach_high_degrees_touching_mostly_legit_and_some_ring_members(mid: World) -> None:
    hubs = {k: users for k, users in mid.users.items() if len(users) >= 50}
    assert len(hubs) >= 5
    assert max(len(u) for u in hubs.values()) >= 200
    for users in hubs.values():
        assert sum(mid.records[i]["truth"]["fraud"] for i in users) < 0.5 * len(users)
    assert any(mid.records[i]["truth"]["kind"] == "ring" for users in hubs.values() for i in users)
    assert {k.split("/")[0] for k in hubs} == {"card", "device", "bank_account"}


def test_camouflage_stolen_cards_and_lone_fraudsters(small: World) -> None:
    ring_members = {i for m in small.of_kind("ring").values() for i in m}
    stolen = [
        k for k, users in small.users.items()
        if k.startswith("card/") and users & ring_members
        and any(small.records[j]["truth"]["kind"] == "legit" for j in users) and len(users) < 50
    ]
    assert stolen
    lone = [r for r in small.records if r["truth"]["kind"] == "lone"]
    assert lone and all(r["truth"]["fraud"] and r["truth"]["group"] is None for r in lone)


def test_labels_are_partial_and_agree_with_truth(small: World) -> None:
    labels = [r["label"] for r in small.records]
    for r in small.records:
        if r["label"] is not None:
            assert r["label"] == ("fraud" if r["truth"]["fraud"] else "legit")
            assert not r["truth"]["late"]
    main = sum(not r["truth"]["late"] for r in small.records)
    assert labels.count("fraud") > 0 and labels.count("legit") >= 0.2 * (len(labels) - labels.count(None))
    assert abs((len(labels) - labels.count(None)) / main - small.params.label_rate) < 0.01


def test_some_rings_have_no_labelled_member(small: World) -> None:
    labelled = [any(small.records[i]["label"] == "fraud" for i in m) for m in small.of_kind("ring").values()]
    assert 0 < labelled.count(False) < len(labelled)
    assert abs(labelled.count(False) / len(labelled) - small.params.unlabelled_ring_fraction) < 0.1


def test_late_stream_comes_last_and_partly_joins_existing_rings(small: World) -> None:
    late = [i for i, r in enumerate(small.records) if r["truth"]["late"]]
    assert len(late) == round(small.params.accounts * small.params.late_fraction)
    assert late == list(range(len(small.records) - len(late), len(small.records)))
    last_main = max(small.records[i]["created_at"] for i in range(late[0]))
    assert min(small.records[i]["created_at"] for i in late) > last_main
    assert [small.records[i]["created_at"] for i in late] == sorted(small.records[i]["created_at"] for i in late)
    joiners = [i for i in late if small.records[i]["truth"]["kind"] == "ring"]
    assert joiners and any(small.records[i]["truth"]["kind"] == "legit" for i in late)
    for i in joiners:
        old_members = set(small.main(small.groups[small.records[i]["truth"]["group"]]))
        assert any(small.users[k] & old_members for k in small.ids(i))


def _one_hot_features(records: list[Record]) -> np.ndarray:
    """Attributes only, as a logistic regression would see them: one-hot categories and hours,
    log-scaled numbers, a flag per missing value."""
    names = sorted({k for r in records for k in r["attributes"]})
    columns: list[np.ndarray] = []
    for name in names:
        values = [r["attributes"].get(name) for r in records]
        columns.append(np.array([v is None for v in values], float))
        if name == "signup_hour" or any(isinstance(v, str) for v in values):
            for level in sorted({v for v in values if v is not None}):
                columns.append(np.array([v == level for v in values], float))
        else:
            x = np.array([0.0 if v is None else float(v) for v in values])
            columns.append(np.log1p(x) if x.max() > 10 else x)
    features = np.column_stack(columns)
    return (features - features.mean(0)) / (features.std(0) + 1e-9)


def _holdout_auc(records: list[Record]) -> float:
    x, y = _one_hot_features(records), np.array([r["truth"]["fraud"] for r in records], float)
    train, test = np.arange(len(y)) % 2 == 0, np.arange(len(y)) % 2 == 1
    w = np.zeros(x.shape[1] + 1)
    xb = np.column_stack([x, np.ones(len(y))])
    xt, yt = xb[train], y[train]
    for _ in range(10):  # Newton steps on the log loss, lightly ridged
        p = 1 / (1 + np.exp(-xt @ w))
        hessian = (xt * (p * (1 - p))[:, None]).T @ xt + np.eye(len(w))
        w -= np.linalg.solve(hessian, xt.T @ (p - yt) + w)
    score = xb[test] @ w
    ranks = np.empty(test.sum())
    ranks[np.argsort(score)] = np.arange(1, test.sum() + 1)
    pos = y[test] == 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def test_attributes_alone_separate_fraud_only_moderately(mid: World) -> None:
    default = _holdout_auc(mid.records)
    harder = _holdout_auc(list(generate(WorldParams.second(seed=1, accounts=20_000))))
    assert 0.72 <= default <= 0.9
    assert 0.6 <= harder < default - 0.03


def test_presets_and_parameter_checks() -> None:
    assert params_for("default", accounts=5, seed=3) == WorldParams(accounts=5, seed=3)
    assert params_for("second", accounts=5, seed=3) == WorldParams.second(seed=3, accounts=5)
    with pytest.raises(ValueError):
        params_for("nope", accounts=5, seed=3)
    with pytest.raises(ValueError):
        WorldParams(ring_fraction=0.6, household_fraction=0.6)
    with pytest.raises(ValueError):
        WorldParams(ring_size=(1, 5))


@pytest.mark.parametrize("accounts", [1, 7, 60])
def test_tiny_worlds_still_have_exactly_the_accounts_asked_for(accounts: int) -> None:
    assert _text(WorldParams(accounts=accounts)).count("\n") == accounts
