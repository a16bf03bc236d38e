"""The presets that cover what the default world leaves out: recruiting rings, same-day families."""

from __future__ import annotations

import numpy as np
import pytest

from ringfence.graph.synthetic import AGENCY, HOUSEHOLD, RING, build_world, params_for

DAY = 86_400


def _spreads(preset: str, kind: int) -> np.ndarray:
    w = build_world(params_for(preset, accounts=6000, seed=3))
    main = ~w.late & (w.kind == kind)
    groups = w.group[main]
    created = w.created[main]
    return np.array([np.ptp(created[groups == g]) for g in np.unique(groups) if (groups == g).sum() >= 3])


@pytest.mark.parametrize("preset", ["recruiting", "inverted"])
def test_rings_keep_recruiting_for_weeks_and_months(preset: str) -> None:
    default, other = _spreads("default", RING), _spreads(preset, RING)
    assert default.max() <= 4 * DAY  # the default world: every ring in one burst
    share = float((other > 21 * DAY).mean())
    assert share >= (0.6 if preset == "inverted" else 0.3), share


@pytest.mark.parametrize("kind", [HOUSEHOLD, AGENCY])
def test_inverted_preset_signs_families_and_agencies_up_on_one_day(kind: int) -> None:
    assert float((_spreads("default", kind) <= DAY).mean()) < 0.5
    assert float((_spreads("inverted", kind) <= DAY + 12 * 3600).mean()) == 1.0
