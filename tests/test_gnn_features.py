"""Feature schema: learnt from any attributes, JSON round-trip, unknown attributes ignored."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from gnn.features import FeatureSchema
from graph.model import AccountRow

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
