"""Feature schema and encoders for account and identifier nodes.

The schema is learnt at training time from whatever attributes the accounts carry:

- numbers: robustly scaled ((x - median) / IQR, clipped), log1p first when the values are
  non-negative and skewed;
- categories (strings): the top-K values one-hot, plus "other";
- booleans: 0/1;
- every attribute also gets a "missing" flag (value imputed with the median / all zeros);
- attributes unknown to the schema are ignored at scoring time.

Time features are computed as of the scoring time (`as_of`): the account's age, and for
identifiers their age, log-degree and the robust spread (median absolute deviation) of their
accounts' creation times, which one added account cannot swing (`gnn.graphdata.robust_timing`).

Labels never enter these encoders; label proximity is computed leave-self-out in
`gnn.graphdata`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from ringfence.graph.model import ID_TYPES, AccountRow

SCHEMA_VERSION = 1
TOP_K = 8
MIN_CATEGORY_COUNT = 5
CLIP = 5.0
DAY = 86400.0


@dataclass
class NumericSpec:
    median: float
    scale: float
    log: bool


@dataclass
class FeatureSchema:
    """What to encode and how; JSON round-trips exactly (`to_json` / `from_json`)."""

    numeric: dict[str, NumericSpec] = field(default_factory=dict)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    boolean: list[str] = field(default_factory=list)
    version: int = SCHEMA_VERSION

    # -- layout ----------------------------------------------------------------------
    @property
    def account_names(self) -> list[str]:
        names = ["age_log_days"]
        for name in sorted(self.numeric):
            names += [f"num:{name}", f"missing:{name}"]
        for name in sorted(self.categorical):
            names += [f"cat:{name}={v}" for v in self.categorical[name]]
            names += [f"cat:{name}=<other>", f"missing:{name}"]
        for name in sorted(self.boolean):
            names += [f"bool:{name}", f"missing:{name}"]
        return names

    @property
    def account_dim(self) -> int:
        return len(self.account_names)

    # -- serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "numeric": {k: asdict(v) for k, v in sorted(self.numeric.items())},
            "categorical": {k: list(v) for k, v in sorted(self.categorical.items())},
            "boolean": sorted(self.boolean),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        if data.get("version") != SCHEMA_VERSION:
            raise ValueError(f"unsupported feature schema version {data.get('version')}")
        return cls(
            numeric={k: NumericSpec(**v) for k, v in data["numeric"].items()},
            categorical={k: list(v) for k, v in data["categorical"].items()},
            boolean=list(data["boolean"]),
        )

    @classmethod
    def from_json(cls, text: str) -> FeatureSchema:
        return cls.from_dict(json.loads(text))

    # -- fitting ---------------------------------------------------------------------
    @classmethod
    def fit(cls, rows: Iterable[AccountRow], top_k: int = TOP_K) -> FeatureSchema:
        """Learn the schema from account attributes (any names, any mix of types)."""
        return cls.fit_attributes((row.attributes for row in rows), top_k)

    @classmethod
    def fit_attributes(cls, attributes: Iterable[Mapping[str, Any]], top_k: int = TOP_K) -> FeatureSchema:
        """`fit` from attribute dicts."""
        numbers: dict[str, list[float]] = {}
        counts: dict[str, dict[str, int]] = {}
        booleans: set[str] = set()
        kinds: dict[str, set[str]] = {}
        for attrs in attributes:
            for key, value in attrs.items():
                if isinstance(value, bool):
                    kinds.setdefault(key, set()).add("bool")
                    booleans.add(key)
                elif isinstance(value, int | float):
                    if math.isfinite(value):
                        kinds.setdefault(key, set()).add("num")
                        numbers.setdefault(key, []).append(float(value))
                elif isinstance(value, str):
                    kinds.setdefault(key, set()).add("cat")
                    c = counts.setdefault(key, {})
                    c[value] = c.get(value, 0) + 1
        schema = cls()
        for key, ks in kinds.items():
            # A key seen with mixed types is treated as a category (its str form).
            if ks == {"num"}:
                schema.numeric[key] = _numeric_spec(np.asarray(numbers[key], dtype=np.float64))
            elif ks == {"bool"}:
                schema.boolean.append(key)
            elif "cat" in ks:
                c = counts.get(key, {})
                top = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))
                schema.categorical[key] = [v for v, n in top[:top_k] if n >= MIN_CATEGORY_COUNT]
            else:  # numbers and booleans mixed: booleans are numbers 0/1
                schema.numeric[key] = _numeric_spec(np.asarray(numbers.get(key, [0.0]), dtype=np.float64))
        schema.boolean.sort()
        return schema

    # -- encoding --------------------------------------------------------------------
    def encode(self, rows: Sequence[AccountRow], as_of: datetime) -> np.ndarray:
        """Account feature matrix, float32 [len(rows), account_dim]."""
        created = np.array([r.created_at.timestamp() for r in rows], dtype=np.float64)
        return self.encode_attributes(created, [r.attributes for r in rows], as_of)

    def encode_attributes(self, created: np.ndarray, attributes: Sequence[Mapping[str, Any]], as_of: datetime,
                          ) -> np.ndarray:
        """As `encode`, from creation times (epoch seconds) and attribute dicts."""
        return self.encode_columns(created, self.columns_from_dicts(attributes), as_of)

    def columns_from_dicts(self, attributes: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """Prepared columns (see `encode_columns`) from attribute dicts."""
        return self.columns_from_values({key: [a.get(key) for a in attributes] for _, key, _, _ in self._layout()})

    def columns_from_values(self, values: Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray]:
        """Prepared columns from each schema attribute's decoded JSON values (None: missing).

        Columns of plain numbers (the usual case) convert in one numpy call; anything else
        goes value by value, with the same result.
        """
        cols: dict[str, np.ndarray] = {}
        for kind, key, _, spec in self._layout():
            col = values[key]
            if kind == 1:
                other, get = len(spec), spec.get
                cols[key] = np.array([-1 if v is None else get(v if v.__class__ is str else _cat_text(v), other)
                                      for v in col], dtype=np.int64)
                continue
            if kind == 0:
                fast = _plain_numbers(col, {int, float, bool, type(None)})
                cols[key] = fast if fast is not None else np.array([_num(v) for v in col], dtype=np.float64)
            else:
                # Floats go value by value: a NaN float is truthy (1.0) but a missing value is NaN.
                fast = _plain_numbers(col, {int, bool, type(None)})
                cols[key] = (np.where(np.isnan(fast), np.nan, (fast != 0).astype(np.float64)) if fast is not None
                             else np.array([_bool(v) for v in col], dtype=np.float64))
        return cols

    def encode_columns(self, created: np.ndarray, columns: Mapping[str, np.ndarray], as_of: datetime) -> np.ndarray:
        """Vectorised encoder, one semantics for online rows and batch loads.

        `columns[key]` per schema attribute: numeric -> float64 value (NaN: missing or not a
        finite number; booleans count as 0/1); categorical -> int64 position in the category
        list, len(list) for "other", -1 for missing; boolean -> float64 1/0, NaN for missing.
        """
        n = len(created)
        out = np.zeros((n, self.account_dim), dtype=np.float32)
        out[:, 0] = np.log1p(np.maximum(as_of.timestamp() - np.asarray(created, dtype=np.float64), 0.0) / DAY)
        rows = np.arange(n)
        for kind, key, col, spec in self._layout():
            c = columns.get(key)
            if kind == 0:
                v = np.full(n, np.nan) if c is None else np.asarray(c, dtype=np.float64)
                ok = np.isfinite(v)
                w = v[ok]
                if spec.log:
                    w = np.log1p(np.maximum(w, 0.0))
                out[ok, col] = np.clip((w - spec.median) / spec.scale, -CLIP, CLIP)
                out[~ok, col + 1] = 1.0
            elif kind == 1:
                pos = np.full(n, -1, dtype=np.int64) if c is None else np.asarray(c, dtype=np.int64)
                pos = np.where(pos < 0, len(spec) + 1, pos)
                out[rows, col + pos] = 1.0
            else:
                v = np.full(n, np.nan) if c is None else np.asarray(c, dtype=np.float64)
                ok = ~np.isnan(v)
                out[ok, col] = v[ok]
                out[~ok, col + 1] = 1.0
        return out

    def attribute_kinds(self) -> list[tuple[str, str, Any]]:
        """(kind, name, spec) per schema attribute, kind "num" / "cat" / "bool"; cat spec: value -> position."""
        return [(("num", "cat", "bool")[k], key, spec) for k, key, _, spec in self._layout()]

    def _layout(self) -> list[tuple[int, str, int, Any]]:
        cached = getattr(self, "_cached_layout", None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        layout: list[tuple[int, str, int, Any]] = []
        col = 1
        for name in sorted(self.numeric):
            layout.append((0, name, col, self.numeric[name]))
            col += 2
        for name in sorted(self.categorical):
            values = self.categorical[name]
            layout.append((1, name, col, {v: i for i, v in enumerate(values)}))
            col += len(values) + 2
        for name in sorted(self.boolean):
            layout.append((2, name, col, None))
            col += 2
        object.__setattr__(self, "_cached_layout", layout)
        return layout


def _num(value: Any) -> float:
    """A numeric attribute's value, NaN when missing or not a finite number (booleans are 0/1)."""
    if isinstance(value, int | float) and not isinstance(value, str):
        try:
            f = float(value)
        except OverflowError:
            return math.nan
        return f if math.isfinite(f) else math.nan
    return math.nan


def _plain_numbers(col: Sequence[Any], types: set[type]) -> np.ndarray | None:
    """float64 of a column whose values are all of `types` (NaN for None and non-finite), else None."""
    if not set(map(type, col)) <= types:
        return None
    try:
        out = np.array(col, dtype=np.float64)
    except OverflowError:  # an int beyond float range: value by value
        return None
    out[~np.isfinite(out)] = np.nan
    return out


def _bool(value: Any) -> float:
    return (1.0 if value else 0.0) if isinstance(value, bool | int | float) else math.nan


def _cat_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _numeric_spec(values: np.ndarray) -> NumericSpec:
    log = bool(values.size and values.min() >= 0 and _skew(values) > 2.0)
    v = np.log1p(values) if log else values
    q25, med, q75 = (float(x) for x in np.quantile(v, [0.25, 0.5, 0.75]))
    scale = q75 - q25
    if scale <= 1e-12:
        scale = float(v.std()) or 1.0
    return NumericSpec(median=med, scale=scale, log=log)


def _skew(values: np.ndarray) -> float:
    sd = values.std()
    if sd <= 0:
        return 0.0
    return float(np.mean(((values - values.mean()) / sd) ** 3))


# -- identifier features -------------------------------------------------------------
IDENTIFIER_NAMES = [*(f"type:{t}" for t in ID_TYPES), "log_degree", "age_log_days", "spread_log_mad_days", "capped"]
IDENTIFIER_DIM = len(IDENTIFIER_NAMES)
TYPE_INDEX = {t: i for i, t in enumerate(ID_TYPES)}


def encode_identifiers(
    types: np.ndarray, degrees: np.ndarray, first_seen_min: np.ndarray, created_std: np.ndarray, capped: np.ndarray,
    as_of: datetime | np.ndarray,
) -> np.ndarray:
    """Identifier feature matrix, float32 [n, IDENTIFIER_DIM].

    Args:
        types: int [n] index into `ID_TYPES`.
        degrees: full degree (accounts sharing it) [n].
        first_seen_min: epoch seconds of its earliest link [n].
        created_std: spread (seconds) of the creation times of its messaging accounts [n]: their
            median absolute deviation (`graphdata.robust_timing`).
        capped: bool [n], degree above the hub cap.
        as_of: the reference time, or epoch seconds per identifier.
    """
    ref = as_of.timestamp() if isinstance(as_of, datetime) else np.asarray(as_of, dtype=np.float64)
    n = len(types)
    out = np.zeros((n, IDENTIFIER_DIM), dtype=np.float32)
    out[np.arange(n), types] = 1.0
    out[:, 3] = np.log1p(degrees.astype(np.float64))
    out[:, 4] = np.log1p(np.maximum(ref - first_seen_min, 0.0) / DAY)
    out[:, 5] = np.log1p(np.maximum(created_std, 0.0) / DAY)
    out[:, 6] = capped.astype(np.float32)
    return out
