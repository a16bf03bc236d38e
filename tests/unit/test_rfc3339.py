"""`to_rfc3339` (isoformat-based since issue #14's hub pages) writes what the strftime form wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from ringfence.graph.model import to_rfc3339


def _strftime_form(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


@given(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                               timezone(timedelta(hours=-8))])),
       st.booleans())
def test_isoformat_form_is_the_strftime_form(ts: datetime, whole_second: bool) -> None:
    if whole_second:
        ts = ts.replace(microsecond=0)
    assert to_rfc3339(ts) == _strftime_form(ts)


def test_examples() -> None:
    assert to_rfc3339(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
    assert to_rfc3339(datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)) == "2026-01-01T00:00:00.250000Z"
