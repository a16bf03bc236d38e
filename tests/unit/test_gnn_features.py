"""Feature schema: learnt from any attributes, JSON round-trip, unknown attributes ignored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ringfence.gnn.features import FeatureSchema
from ringfence.graph.model import AccountRow

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def _row(i: int, **attrs: object) -> AccountRow:
    return AccountRow(f"a{i}", datetime(2026, 1, 1 + i % 28, tzinfo=UTC), dict(attrs), None, None)  # type: ignore[arg-type]


def _rows() -> list[AccountRow]:
    rows = []
    for i in range(60):
        attrs: dict[str, object] = {"amount": float(np.exp(i % 9)), "score": i / 10, "country": "DE" if i % 3 else "FR",
                                    "verified": i % 2 == 0}
        if i % 5 == 0:
            del attrs["score"]
        rows.append(_row(i, **attrs))
    return rows


def test_schema_learns_types_and_round_trips() -> None:
    schema = FeatureSchema.fit(_rows())
    assert set(schema.numeric) == {"amount", "score"}
    assert schema.categorical == {"country": ["DE", "FR"]}
    assert schema.boolean == ["verified"]
    assert schema.numeric["amount"].log  # skewed, non-negative
    again = FeatureSchema.from_json(schema.to_json())
    assert again.to_dict() == schema.to_dict()
    rows = _rows()
    assert np.array_equal(schema.encode(rows, AS_OF), again.encode(rows, AS_OF))


def test_unknown_attributes_ignored_and_missing_flagged() -> None:
    schema = FeatureSchema.fit(_rows())
    names = schema.account_names
    base = _row(1, amount=3.0, country="DE", verified=True)
    extra = _row(1, amount=3.0, country="DE", verified=True, brand_new="x", other=5)
    a, b = schema.encode([base, extra], AS_OF)
    assert np.array_equal(a, b)
    assert a[names.index("missing:score")] == 1.0
    assert a[names.index("missing:amount")] == 0.0
    unseen = schema.encode([_row(1, country="BR")], AS_OF)[0]
    assert unseen[names.index("cat:country=<other>")] == 1.0


def test_age_is_computed_as_of_scoring_time() -> None:
    schema = FeatureSchema.fit(_rows())
    row = _row(0)
    early = schema.encode([row], datetime(2026, 1, 2, tzinfo=UTC))[0, 0]
    late = schema.encode([row], datetime(2026, 12, 1, tzinfo=UTC))[0, 0]
    assert late > early > 0


ODD_VALUES: list[object] = [1, 2.5, True, False, None, "7", "x", 10**400, 0, 1.0, [1], {"a": 1}]


def test_batch_columns_match_value_by_value() -> None:
    """The vectorised columns equal the per-value semantics, odd values included."""
    schema = FeatureSchema.fit(_rows())
    for odd in ODD_VALUES:
        attrs = [{"amount": odd, "score": 0.5, "country": odd, "verified": odd}, {"amount": 2.0, "verified": True},
                 {}]
        plain = [{"amount": 2.0, "verified": 1}, {"amount": 3, "country": "DE", "verified": None}]
        for batch in (attrs, plain):
            got = schema.columns_from_dicts(batch)
            rows = [_row(i, **a) for i, a in enumerate(batch)]
            assert np.array_equal(schema.encode(rows, AS_OF), schema.encode_columns(
                np.array([r.created_at.timestamp() for r in rows]), got, AS_OF)), odd
            for key in ("amount", "verified"):
                slow = np.array([_reference(schema, key, a.get(key)) for a in batch])
                assert np.array_equal(got[key], slow, equal_nan=True), (key, odd)


def _reference(schema: FeatureSchema, key: str, value: object) -> float:
    from ringfence.gnn.features import _bool, _num

    return _num(value) if key in schema.numeric else _bool(value)


def test_load_arrays_reads_attributes_as_online_rows_do(tmp_path: Path) -> None:
    """The SQLite bulk path (JSON read by SQLite) and the per-row path give the same columns."""
    from ringfence.graph.arrays import load_arrays
    from ringfence.graph.model import AccountIn
    from ringfence.graph.sqlite_store import SQLiteStore

    schema = FeatureSchema.fit(_rows())
    store = SQLiteStore(tmp_path / "g.db")
    store.migrate()
    odd = [{"amount": v, "country": v, "verified": v} for v in ODD_VALUES if v != 10**400]
    store.upsert_accounts([AccountIn(f"a{i:02d}", datetime(2026, 1, 1, tzinfo=UTC), a)  # type: ignore[arg-type]
                           for i, a in enumerate([*odd, {}, {"score": 1e300}])])
    arrays = load_arrays(store, attributes=schema)
    rows = [r for chunk in store.stream_accounts() for r in chunk]
    expected = schema.columns_from_dicts([r.attributes for r in rows])
    assert arrays.columns is not None and set(arrays.columns) == set(expected)
    for key, col in expected.items():
        assert np.array_equal(arrays.columns[key], col, equal_nan=True), key
