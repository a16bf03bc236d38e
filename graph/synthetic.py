"""Deterministic synthetic world with known truth, for training, tests, demos and benchmarks.

A world holds exactly `accounts` accounts linked to card, device and bank-account identifiers:

- fraud rings (kind `ring`, group `R<n>`): 3..50 accounts created in one burst (hours to a few
  days), drawing devices, cards and bank accounts from small shared pools, so members share
  several identifiers but not every pair shares one; some members also use stolen cards of
  ordinary legit accounts;
- lone fraudsters (kind `lone`, no group), half of them with a stolen card;
- legit structure that looks like rings: households (`household`, `H<n>`, 2-4 accounts sharing a
  device and/or a card, created over weeks) and agencies/platforms (`agency`, `G<n>`, 5-20
  accounts paid out to one bank account, created over months, some sharing an office device);
- ordinary legit accounts (`legit`) with their own 1-3 cards, 1-2 devices and 0-1 bank
  accounts; a few reuse a device or card of an earlier account (second-hand phones,
  re-registrations);
- hub identifiers (emulator default device ids, payment facilitators' pooled bank accounts,
  widely reused virtual cards) with degrees from tens to thousands, touching mostly legit
  accounts and some fraudsters (emulators more so);
- a late stream (`truth.late`) created after everything else: new legit accounts, and
  accounts that join existing rings by reusing their pools.

Labels (`label`) model chargebacks and investigator reviews of the main world only (the late
stream is too new to carry any): rings outside the `unlabelled_ring_fraction` get fraud labels
on `chargeback_rate` of their members (at least one), lone fraudsters on the same share; the
rest of the `label_rate` budget is legit labels, drawn with extra weight on accounts that an
investigator would have looked at and cleared (households, agencies, hub users, stolen-card
victims). Fraud is only a few per cent of accounts, so at the defaults about 90% of labels are
legit; where the fraud labels would exceed 80% of the budget they are thinned so that at least
20% of labels stay legit. Labelled fraud is always true fraud, labelled legit true legit.

Record, one compact JSON object per line, keys in this order (`truth` is never stored):

    {"id":"a0000123","created_at":"2026-03-04T05:06:07Z",
     "attributes":{"email_domain":"gmail.com","country":"DE","age_days_email":812.4,
                   "phone_verified":true,"signup_hour":13,"amount_first_txn":23.5,"ip_risk":0.12,
                   "name_email_match":0.9,"device_os":"ios","card_country_match":true},
     "links":[{"type":"card","id":"card:3f9a0c1de2b4f705","seen_at":"2026-03-04T05:16:07Z"}],
     "label":"fraud"|"legit"|null,
     "truth":{"fraud":true,"group":"R17"|"H3"|"G5"|null,"kind":"ring"|"household"|"agency"|"lone"|"legit","late":false}}

Attributes absent from a record are missing (not null). Accounts are numbered in creation
order, main world first, then the late stream; links are ordered by `seen_at`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import numpy as np

from ringfence.graph.model import ID_TYPES

KINDS = ("legit", "household", "agency", "ring", "lone")
LEGIT, HOUSEHOLD, AGENCY, RING, LONE = range(len(KINDS))
CARD, DEVICE, BANK = (ID_TYPES.index(t) for t in ("card", "device", "bank_account"))
_GROUP_PREFIX = ("", "H", "G", "R", "")
DAY = 86_400
_CHUNK = 20_000  # accounts formatted at a time: bounds memory, amortises numpy calls


@dataclass(frozen=True)
class WorldParams:
    """Shape of a world. Fractions are shares of the main world (all accounts but the late stream)."""

    accounts: int = 100_000
    seed: int = 1
    ring_fraction: float = 0.03
    ring_size: tuple[int, int] = (3, 50)
    ring_size_alpha: float = 2.0  # P(size) ∝ size^-alpha: mostly small rings, a few large ones
    lone_fraud_fraction: float = 0.005
    household_fraction: float = 0.15
    agency_fraction: float = 0.03
    label_rate: float = 0.15  # share of main-world accounts carrying a label
    chargeback_rate: float = 0.5  # share of fraudsters in labelled rings (and lone ones) labelled fraud
    unlabelled_ring_fraction: float = 0.3
    late_fraction: float = 0.02  # share of all accounts in the late stream
    late_join_fraction: float = 0.3  # share of the late stream joining existing rings
    attribute_shift: float = 1.0  # 0: fraud attributes look legit; larger: easier to tell apart
    mimic_fraction: float = 0.1  # fraudsters whose attributes are drawn as legit (aged, verified identities)
    stolen_card_fraction: float = 0.1  # ring members also using an ordinary legit account's card
    reuse_fraction: float = 0.03  # ordinary accounts reusing an earlier account's device or card
    hub_count: int = 40
    burst_hours: float = 12.0  # median ring burst length
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    days: int = 300
    late_days: int = 14
    # Reality the default world leaves out (0 keeps the default and second worlds unchanged):
    ring_recruit_fraction: float = 0.0  # rings that keep recruiting: a third start in a burst, the rest join later
    recruit_days: float = 45.0  # mean delay of those later recruits (exponential, weeks to months)
    group_same_day_fraction: float = 0.0  # households and agencies whose members all sign up on one day

    def __post_init__(self) -> None:
        lo, hi = self.ring_size
        shares = (self.ring_fraction, self.lone_fraud_fraction, self.household_fraction, self.agency_fraction)
        rates = (
            self.label_rate,
            self.chargeback_rate,
            self.unlabelled_ring_fraction,
            self.late_fraction,
            self.late_join_fraction,
            self.mimic_fraction,
            self.stolen_card_fraction,
            self.reuse_fraction,
            self.ring_recruit_fraction,
            self.group_same_day_fraction,
        )
        if self.accounts < 1 or not 2 <= lo <= hi or min(shares) < 0 or sum(shares) > 1:
            raise ValueError("need accounts >= 1, 2 <= ring_size[0] <= ring_size[1], kind shares summing to <= 1")
        if not all(0 <= r <= 1 for r in rates) or self.attribute_shift < 0 or self.hub_count < 0:
            raise ValueError("rates must lie in [0, 1]; attribute_shift and hub_count must be >= 0")
        if self.days < 7 or self.late_days < 2 or self.start.utcoffset() is None:
            raise ValueError("need days >= 7, late_days >= 2 and a timezone-aware start")

    @classmethod
    def second(cls, seed: int = 2, accounts: int = 100_000) -> WorldParams:
        """A differently shaped world to check that models generalise: smaller, flatter-sized
        rings, fraud attributes closer to legit, more camouflage, fewer labels."""
        return cls(
            accounts=accounts,
            seed=seed,
            ring_fraction=0.025,
            ring_size=(3, 30),
            ring_size_alpha=1.5,
            lone_fraud_fraction=0.008,
            household_fraction=0.2,
            agency_fraction=0.05,
            label_rate=0.08,
            chargeback_rate=0.35,
            unlabelled_ring_fraction=0.5,
            late_join_fraction=0.4,
            attribute_shift=0.6,
            mimic_fraction=0.3,
            stolen_card_fraction=0.3,
            reuse_fraction=0.06,
            hub_count=60,
            burst_hours=30.0,
            start=datetime(2026, 3, 1, tzinfo=UTC),
            days=240,
        )


PRESETS = ("default", "second", "recruiting", "inverted")


def params_for(preset: str, *, accounts: int, seed: int) -> WorldParams:
    """A named world:

    - `default`, `second` (see `WorldParams.second`);
    - `recruiting`: the default world where half the rings keep recruiting for weeks and months
      (late joiners to old rings, some with new cards and devices of their own), half the
      households and agencies sign up on one day, and twice the device and card reuse across
      long gaps;
    - `inverted`: the timing cue turned around: every ring recruits over months and every
      household and agency signs up on one day (legit groups are the bursty ones).
    """
    if preset == "default":
        return WorldParams(accounts=accounts, seed=seed)
    if preset == "second":
        return WorldParams.second(seed=seed, accounts=accounts)
    if preset == "recruiting":
        return WorldParams(accounts=accounts, seed=seed, ring_recruit_fraction=0.5, group_same_day_fraction=0.5,
                           reuse_fraction=0.06)
    if preset == "inverted":
        return WorldParams(accounts=accounts, seed=seed, ring_recruit_fraction=1.0, group_same_day_fraction=1.0,
                           recruit_days=60.0, reuse_fraction=0.06)
    raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}")


# (name, kind, values, categories): kind is "cat" or "bool" (codes, -1 missing), "int" (-1 missing)
# or "float" (NaN missing); categories name the "cat" codes.
_Attribute = tuple[str, str, np.ndarray, tuple[str, ...]]


@dataclass(frozen=True)
class World:
    """A generated world as columns. Accounts are indexed in output order; times are seconds
    since `params.start`."""

    params: WorldParams
    created: np.ndarray  # int64 per account
    kind: np.ndarray  # int8 index into KINDS
    group: np.ndarray  # int32 group number within its kind (R/H/G), 0 for none
    late: np.ndarray  # bool
    label: np.ndarray  # int8: -1 none, 0 legit, 1 fraud
    attributes: tuple[_Attribute, ...]
    link_account: np.ndarray  # int64, sorted by (account, seen, identifier)
    link_identifier: np.ndarray  # int64
    link_seen: np.ndarray  # int64
    identifier_type: np.ndarray  # int8 index into graph.model.ID_TYPES, per identifier
    hubs: np.ndarray  # identifier indices of the hub identifiers
    salt: int  # seeds the identifier tokens

    @property
    def fraud(self) -> np.ndarray:
        return (self.kind == RING) | (self.kind == LONE)


# ---------------------------------------------------------------- construction


class _Links:
    """Identifiers and links accumulated as arrays; identifiers are numbered in allocation order."""

    def __init__(self) -> None:
        self.count = 0
        self.types: list[np.ndarray] = []
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def new(self, type_: int, n: int) -> np.ndarray:
        self.types.append(np.full(n, type_, np.int8))
        self.count += n
        return np.arange(self.count - n, self.count, dtype=np.int64)

    def add(self, accounts: np.ndarray, identifiers: np.ndarray, seen: np.ndarray) -> None:
        self.parts.append((accounts.astype(np.int64), identifiers.astype(np.int64), seen.astype(np.int64)))


# Share of legit sign-ups per local hour: quiet nights, busy evenings.
_DIURNAL = np.array(
    [
        1.0,
        0.6,
        0.4,
        0.3,
        0.3,
        0.4,
        0.8,
        1.5,
        2.5,
        3.2,
        3.5,
        3.6,
        3.8,
        3.6,
        3.4,
        3.3,
        3.4,
        3.6,
        3.9,
        4.2,
        4.0,
        3.4,
        2.6,
        1.7,
    ]
)
_DIURNAL /= _DIURNAL.sum()
_COUNTRIES = ("DE", "FR", "GB", "NL", "ES", "IT", "PL", "US", "RO", "BR", "NG", "IN")
_TZ = np.array([1, 1, 0, 1, 1, 1, 1, -5, 2, -3, 1, 5])
_COUNTRY_P = (
    [0.30, 0.15, 0.14, 0.08, 0.08, 0.08, 0.06, 0.05, 0.02, 0.02, 0.01, 0.01],
    [0.18, 0.08, 0.12, 0.05, 0.05, 0.05, 0.06, 0.12, 0.10, 0.07, 0.07, 0.05],
)
_DOMAINS = (
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "hotmail.com",
    "icloud.com",
    "gmx.de",
    "web.de",
    "orange.fr",
    "proton.me",
    "mail.ru",
    "yandex.com",
    "tempmail.dev",
)
_DOMAIN_P = (
    [0.36, 0.10, 0.08, 0.08, 0.10, 0.08, 0.07, 0.06, 0.03, 0.02, 0.015, 0.005],
    [0.34, 0.08, 0.08, 0.09, 0.04, 0.03, 0.02, 0.02, 0.11, 0.06, 0.06, 0.07],
)
_OS = ("android", "ios", "windows", "macos", "linux")
_OS_P = ([0.45, 0.38, 0.10, 0.05, 0.02], [0.52, 0.18, 0.21, 0.03, 0.06])


def _power_sizes(rng: np.random.Generator, total: int, lo: int, hi: int, alpha: float) -> np.ndarray:
    """Group sizes from P(s) ∝ s^-alpha on [lo, hi], as many groups as fit in `total` accounts."""
    sizes = np.arange(lo, hi + 1)
    weights = sizes.astype(float) ** -alpha
    draws = rng.choice(sizes, size=total // lo + 1, p=weights / weights.sum())
    return draws[np.cumsum(draws) <= total].astype(np.int64)


def _positions(rng: np.random.Generator, sizes: np.ndarray) -> np.ndarray:
    """For members laid out group by group, a random order 0..size-1 within each group."""
    group = np.repeat(np.arange(sizes.size), sizes)
    order = np.lexsort((rng.random(group.size), group))
    pos = np.empty(group.size, np.int64)
    pos[order] = np.arange(group.size) - (np.cumsum(sizes) - sizes)[group]
    return pos


def _diurnal(rng: np.random.Generator, day: np.ndarray, tz: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Sign-up times on the given days at local hours drawn from the legit activity curve."""
    hour = rng.choice(24, size=day.size, p=_DIURNAL)
    return np.clip(day * DAY + (hour - tz) * 3600 + rng.integers(0, 3600, day.size), lo, hi - 1)


def _delay(rng: np.random.Generator, created: np.ndarray, scale: float | np.ndarray, end: int) -> np.ndarray:
    """Times an exponential delay (mean `scale` seconds) after `created`; delays that would run past
    `end` land uniformly in what is left of the window instead of piling up on its last second."""
    t = created + (rng.exponential(1.0, created.size) * scale).astype(np.int64)
    inside = created + (rng.random(created.size) * (end - created)).astype(np.int64)
    return np.where(t < end, t, inside)


def _personal(
    b: _Links, rng: np.random.Generator, acc: np.ndarray, created: np.ndarray, end: int, bank_p: float
) -> tuple[np.ndarray, np.ndarray]:
    """Own 1-3 cards, 1-2 devices, maybe a bank account; returns each account's first card and device."""
    n = acc.size
    firsts: list[np.ndarray] = []
    for type_, counts, first_delay in (
        (CARD, rng.choice(np.arange(1, 4), n, p=[0.6, 0.3, 0.1]), 3600.0),
        (DEVICE, rng.choice(np.arange(1, 3), n, p=[0.75, 0.25]), 0.0),
        (BANK, (rng.random(n) < bank_p).astype(np.int64), 20.0 * DAY),
    ):
        ids = b.new(type_, int(counts.sum()))
        owner = np.repeat(np.arange(n), counts)
        starts = np.cumsum(counts) - counts
        # The first card and device come with the sign-up; further ones over the following months.
        scale = np.where(np.arange(ids.size) == starts[owner], first_delay, 60.0 * DAY)
        b.add(acc[owner], ids, _delay(rng, created[owner], scale, end))
        if type_ != BANK:  # an account may have no bank account, but always a card and a device
            firsts.append(ids[starts])
    return firsts[0], firsts[1]


def _categorical(
    rng: np.random.Generator, shifted: np.ndarray, probs: tuple[list[float], list[float]], shift: float
) -> np.ndarray:
    """Codes from the legit distribution, or for `shifted` accounts from one moved towards fraud's."""
    legit, fraud = np.array(probs[0]), np.array(probs[1])
    a = min(1.0, 0.4 * shift)
    mixed = (1 - a) * legit + a * fraud
    n = shifted.size
    return np.where(
        shifted, rng.choice(legit.size, n, p=mixed / mixed.sum()), rng.choice(legit.size, n, p=legit / legit.sum())
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _missing(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    gone = rng.random(values.size) < rate
    return np.where(gone, np.nan if values.dtype.kind == "f" else -1, values)


def _group_first(at: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """For members laid out group by group at `at`, the index of each one's group's first member."""
    return at[np.repeat(np.cumsum(sizes) - sizes, sizes)]


def _pool_offsets(b: _Links, type_: int, sizes: np.ndarray) -> np.ndarray:
    base = b.count
    b.new(type_, int(sizes.sum()))
    return base + np.cumsum(sizes) - sizes


def _renumber(group: np.ndarray, created: np.ndarray) -> np.ndarray:
    """Group numbers 1..n in order of each group's first member's creation."""
    first = np.full(int(group.max(initial=-1)) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, group, created)
    number = np.empty(first.size, np.int32)
    number[np.argsort(first, kind="stable")] = np.arange(1, first.size + 1)
    return number[group]


def build_world(p: WorldParams) -> World:
    """The world's columns; the same params always give the same world."""
    rng = np.random.default_rng(p.seed)
    end_main, end_late = p.days * DAY, (p.days + p.late_days) * DAY
    n_late = round(p.accounts * p.late_fraction)
    n_main = p.accounts - n_late
    ring_sizes = _power_sizes(rng, round(n_main * p.ring_fraction), *p.ring_size, p.ring_size_alpha)
    house_sizes = _power_sizes(rng, round(n_main * p.household_fraction), 2, 4, 1.5)
    agency_sizes = _power_sizes(rng, round(n_main * p.agency_fraction), 5, 20, 1.0)
    n_lone = round(n_main * p.lone_fraud_fraction)
    n_join = round(n_late * p.late_join_fraction) if ring_sizes.size else 0
    blocks = [ring_sizes.sum(), n_lone, house_sizes.sum(), agency_sizes.sum()]
    blocks += [n_main - sum(blocks), n_join, n_late - n_join]
    bounds = np.cumsum([0, *blocks])
    ring_at, lone_at, house_at, agency_at, ord_at, join_at, new_at = (
        np.arange(bounds[i], bounds[i + 1]) for i in range(7)
    )
    n = p.accounts
    kind = np.repeat(np.array([RING, LONE, HOUSEHOLD, AGENCY, LEGIT, RING, LEGIT], np.int8), blocks)
    fraud = (kind == RING) | (kind == LONE)
    shifted = fraud & (rng.random(n) >= p.mimic_fraction)
    n_rings = ring_sizes.size
    ring_of = np.repeat(np.arange(n_rings), ring_sizes)
    house_of = np.repeat(np.arange(house_sizes.size), house_sizes)
    agency_of = np.repeat(np.arange(agency_sizes.size), agency_sizes)

    # Joiners pick rings in proportion to size, a few joiners each, in one late burst per ring.
    targets = np.zeros(0, np.int64)
    if n_join:
        n_targets = min(n_rings, -(-n_join // 4))
        targets = rng.choice(n_rings, n_targets, replace=False, p=ring_sizes / ring_sizes.sum())
    join_pick = rng.integers(0, max(1, targets.size), n_join)
    join_of = targets[join_pick] if n_join else np.zeros(0, np.int64)
    ring_member = np.concatenate([ring_at, join_at])
    ring_member_of = np.concatenate([ring_of, join_of])

    # Countries and email domains: rings lean on their own; households and agencies share them.
    country = _categorical(rng, shifted, _COUNTRY_P, p.attribute_shift)
    domain = _categorical(rng, shifted, _DOMAIN_P, p.attribute_shift)
    for values, probs, share in ((country, _COUNTRY_P, 0.6), (domain, _DOMAIN_P, 0.4)):
        own = _categorical(rng, np.ones(n_rings, bool), probs, p.attribute_shift)
        take = rng.random(ring_member.size) < share
        values[ring_member[take]] = own[ring_member_of[take]]
    country[house_at] = country[_group_first(house_at, house_sizes)]
    country[agency_at] = country[_group_first(agency_at, agency_sizes)]
    same = rng.random(house_at.size) < 0.5
    domain[house_at[same]] = domain[_group_first(house_at, house_sizes)[same]]
    tz = _TZ[country]

    # Creation times: rings in bursts, legit at the hours people are awake, the late stream last.
    created = np.zeros(n, np.int64)
    burst_start = rng.integers(0, end_main - 5 * DAY, n_rings)
    burst_len = np.clip(rng.lognormal(np.log(p.burst_hours * 3600), 0.8, n_rings), 1800, 4 * DAY)
    created[ring_at] = burst_start[ring_of] + (rng.random(ring_at.size) * burst_len[ring_of]).astype(np.int64)
    if p.ring_recruit_fraction > 0:
        # Recruiting rings: a founding third in the burst, the others join weeks to months later.
        recruiting = rng.random(n_rings) < p.ring_recruit_fraction
        later = recruiting[ring_of] & (_positions(rng, ring_sizes) >= np.maximum(2, ring_sizes // 3)[ring_of])
        delay = rng.exponential(p.recruit_days * DAY, ring_at.size).astype(np.int64)
        created[ring_at] = np.where(later, np.minimum(created[ring_at] + delay, end_main - 1), created[ring_at])
    lone_legit_hours = _diurnal(rng, rng.integers(0, p.days, n_lone), tz[lone_at], 0, end_main)
    created[lone_at] = np.where(rng.random(n_lone) < 0.5, lone_legit_hours, rng.integers(0, end_main, n_lone))
    for at, of, sizes, spread in ((house_at, house_of, house_sizes, 45.0), (agency_at, agency_of, agency_sizes, 60.0)):
        later = np.arange(at.size) != np.cumsum(sizes)[of] - sizes[of]
        first_day = rng.integers(0, p.days, sizes.size)[of]
        offset = later * rng.exponential(spread, at.size).astype(np.int64)
        if p.group_same_day_fraction > 0:  # a family or an agency signing up together
            offset = np.where((rng.random(sizes.size) < p.group_same_day_fraction)[of], 0, offset)
        day = first_day + offset
        created[at] = _diurnal(rng, np.minimum(day, p.days - 1), tz[at], 0, end_main)
    created[ord_at] = _diurnal(rng, rng.integers(0, p.days, ord_at.size), tz[ord_at], 0, end_main)
    late_burst = rng.integers(end_main, end_late - DAY, max(1, targets.size))
    created[join_at] = late_burst[join_pick] + rng.integers(0, DAY, n_join)
    created[new_at] = _diurnal(
        rng, rng.integers(p.days, p.days + p.late_days, new_at.size), tz[new_at], end_main, end_late
    )

    b = _Links()
    # Ring pools hold at most half the ring and every pooled device and card is some member's
    # first, so each is shared by two or more members; extra draws make pairs overlap unevenly.
    half = np.maximum(1, ring_sizes // 2)
    pool_d = np.clip(np.rint(ring_sizes * rng.uniform(0.15, 0.35, n_rings)), 1, half).astype(np.int64)
    pool_c = np.clip(np.rint(ring_sizes * rng.uniform(0.2, 0.4, n_rings)), 1, half).astype(np.int64)
    pool_b = np.minimum(1 + ring_sizes // 15, half)
    off_d, off_c, off_b = (_pool_offsets(b, t, s) for t, s in ((DEVICE, pool_d), (CARD, pool_c), (BANK, pool_b)))
    cr = created[ring_at]
    b.add(ring_at, off_d[ring_of] + _positions(rng, ring_sizes) % pool_d[ring_of], cr)
    b.add(ring_at, off_c[ring_of] + _positions(rng, ring_sizes) % pool_c[ring_of], _delay(rng, cr, 1800, end_main))
    # Late joiners reuse the pools of the ring they join: always a device, often a card or bank account.
    for at, of, c, end, draws in (
        (ring_at, ring_of, cr, end_main, ((0.35, off_d, pool_d), (0.4, off_c, pool_c), (0.75, off_b, pool_b))),
        (
            join_at,
            join_of,
            created[join_at],
            end_late,
            ((1.0, off_d, pool_d), (0.6, off_c, pool_c), (0.6, off_b, pool_b)),
        ),
    ):
        for share, off, size in draws:
            sel = rng.random(at.size) < share
            b.add(at[sel], off[of[sel]] + rng.integers(0, size[of[sel]]), _delay(rng, c[sel], 6 * 3600, end))
        for type_, share in ((CARD, 0.25), (DEVICE, 0.15)):  # burner cards, fresh phones
            sel = rng.random(at.size) < share
            b.add(at[sel], b.new(type_, int(sel.sum())), _delay(rng, c[sel], 3600, end))

    _personal(b, rng, lone_at, created[lone_at], end_main, 0.3)
    _personal(b, rng, house_at, created[house_at], end_main, 0.55)
    _personal(b, rng, agency_at, created[agency_at], end_main, 0.0)
    first_card, first_device = _personal(b, rng, ord_at, created[ord_at], end_main, 0.55)
    _personal(b, rng, new_at, created[new_at], end_late, 0.55)

    # Households share a device and/or a card; agencies are paid out to one bank account and
    # some work from one office device.
    share_device = rng.random(house_sizes.size) < 0.6
    share_card = (rng.random(house_sizes.size) < 0.55) | ~share_device
    office = rng.random(agency_sizes.size) < 0.3
    payout_all = np.ones(agency_sizes.size, bool)
    for at, of, type_, has, member_share, scale in (
        (house_at, house_of, DEVICE, share_device, 1.0, 0.0),
        (house_at, house_of, CARD, share_card, 1.0, 0.0),
        (agency_at, agency_of, BANK, payout_all, 1.0, 7.0 * DAY),
        (agency_at, agency_of, DEVICE, office, 0.5, 0.0),
    ):
        ids = np.full(has.size, -1)
        ids[has] = b.new(type_, int(has.sum()))
        sel = has[of] & (rng.random(at.size) < member_share)
        b.add(at[sel], ids[of[sel]], _delay(rng, created[at[sel]], scale, end_main))

    # Reuse across time: a later ordinary account takes over an earlier one's device or card.
    by_time = np.argsort(created[ord_at], kind="stable")
    rank = np.empty(ord_at.size, np.int64)
    rank[by_time] = np.arange(ord_at.size)
    sel = (rng.random(ord_at.size) < p.reuse_fraction) & (rank > 0)
    donor = by_time[rng.integers(0, np.maximum(rank[sel], 1))]
    reused = np.where(rng.random(donor.size) < 0.5, first_device[donor], first_card[donor])
    b.add(ord_at[sel], reused, created[ord_at[sel]])

    # Stolen cards: ring members and lone fraudsters pay with an ordinary account's card.
    victim = np.zeros(n, bool)
    if ord_at.size:
        thieves = np.concatenate(
            [ring_at[rng.random(ring_at.size) < p.stolen_card_fraction], lone_at[rng.random(n_lone) < 0.5]]
        )
        stolen = rng.integers(0, ord_at.size, thieves.size)
        victim[ord_at[stolen]] = True
        b.add(thieves, first_card[stolen], _delay(rng, created[thieves], DAY, end_main))

    # Hubs: degrees log-uniform from 20 to 3% of the main world (at most 5000); emulator device ids
    # attract fraudsters more than shared virtual cards, payment facilitators' bank accounts least.
    hub_types = rng.choice(np.array([DEVICE, CARD, BANK]), p.hub_count, p=[0.4, 0.3, 0.3])
    top = min(max(30.0, 0.03 * n_main), 5000.0)
    degrees = np.minimum(np.exp(rng.uniform(np.log(20), np.log(top), p.hub_count)).astype(np.int64), n_main)
    fraud_main, legit_main = np.flatnonzero(fraud[:n_main]), np.flatnonzero(~fraud[:n_main])
    base = fraud_main.size / max(1, n_main)
    hubs = np.zeros(p.hub_count, np.int64)
    hub_user = np.zeros(n, bool)
    for h, (type_, degree) in enumerate(zip(hub_types.tolist(), degrees.tolist(), strict=True)):
        weight = {DEVICE: 4.0, CARD: 2.0, BANK: 1.0}[type_] * base
        n_fraud = min(int(rng.binomial(degree, weight / (weight + 1 - base))), fraud_main.size)
        users = np.concatenate(
            [
                fraud_main[rng.choice(fraud_main.size, n_fraud, replace=False)],
                legit_main[rng.choice(legit_main.size, min(degree - n_fraud, legit_main.size), replace=False)],
            ]
        )
        hubs[h] = b.new(type_, 1)[0]
        hub_user[users] = True
        b.add(users, np.full(users.size, hubs[h]), _delay(rng, created[users], 3 * DAY, end_main))

    attributes = _attributes(rng, p, shifted, country, domain, created, tz)
    label = _labels(rng, p, n_main, ring_at, ring_of, ring_sizes, lone_at, fraud, kind, hub_user | victim)

    # Output order: creation time, main world first; group numbers follow first creation.
    order = np.concatenate(
        [np.argsort(created[:n_main], kind="stable"), n_main + np.argsort(created[n_main:], kind="stable")]
    )
    position = np.empty(n, np.int64)
    position[order] = np.arange(n)
    group = np.zeros(n, np.int32)
    for at, of in ((ring_member, ring_member_of), (house_at, house_of), (agency_at, agency_of)):
        group[at] = _renumber(of, created[at])
    acc, ident, seen = (np.concatenate(col) for col in zip(*b.parts, strict=True))
    # One link per (account, identifier), at its first sighting, ordered by (account, seen, identifier).
    pair = position[acc] * b.count + ident
    by_pair = np.argsort(pair)
    pair, seen = pair[by_pair], seen[by_pair]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    pair, seen = pair[starts], np.minimum.reduceat(seen, starts)
    by_seen = np.argsort(pair // b.count * end_late + seen, kind="stable")
    pair, seen = pair[by_seen], seen[by_seen]
    return World(
        params=p,
        created=created[order],
        kind=kind[order],
        group=group[order],
        late=np.arange(n) >= n_main,
        label=label[order],
        attributes=tuple((name, k, v[order], c) for name, k, v, c in attributes),
        link_account=pair // b.count,
        link_identifier=pair % b.count,
        link_seen=seen,
        identifier_type=np.concatenate(b.types),
        hubs=hubs,
        salt=int(rng.integers(0, 1 << 60)),
    )


def _attributes(
    rng: np.random.Generator,
    p: WorldParams,
    shifted: np.ndarray,
    country: np.ndarray,
    domain: np.ndarray,
    created: np.ndarray,
    tz: np.ndarray,
) -> list[_Attribute]:
    """Sign-up attributes; fraud is shifted by `attribute_shift` but overlaps legit throughout."""
    n, s = shifted.size, p.attribute_shift * shifted
    epoch = int(p.start.timestamp())
    age = _missing(rng, np.round(np.clip(rng.lognormal(6.3 - 0.75 * s, 1.1), 1, 9000), 1), 0.08)
    amount = _missing(rng, np.round(rng.lognormal(3.3 + 0.35 * s, 0.9), 2), 0.3)
    ip_risk = _missing(rng, np.round(_sigmoid(rng.normal(-2.2 + 0.65 * s, 1.0)), 2), 0.02)
    name_match = _missing(rng, np.round(_sigmoid(rng.normal(1.6 - 0.7 * s, 1.2)), 2), 0.06)
    phone = (rng.random(n) < _sigmoid(1.5 - 0.7 * s)).astype(np.int64)
    card_match = _missing(rng, (rng.random(n) < _sigmoid(2.75 - 0.8 * s)).astype(np.int64), 0.1)
    device_os = _missing(rng, _categorical(rng, shifted, _OS_P, p.attribute_shift), 0.04)
    return [
        ("email_domain", "cat", domain, _DOMAINS),
        ("country", "cat", country, _COUNTRIES),
        ("age_days_email", "float", age, ()),
        ("phone_verified", "bool", phone, ()),
        ("signup_hour", "int", ((epoch + created) // 3600 + tz) % 24, ()),
        ("amount_first_txn", "float", amount, ()),
        ("ip_risk", "float", ip_risk, ()),
        ("name_email_match", "float", name_match, ()),
        ("device_os", "cat", device_os, _OS),
        ("card_country_match", "bool", card_match, ()),
    ]


def _labels(
    rng: np.random.Generator,
    p: WorldParams,
    n_main: int,
    ring_at: np.ndarray,
    ring_of: np.ndarray,
    ring_sizes: np.ndarray,
    lone_at: np.ndarray,
    fraud: np.ndarray,
    kind: np.ndarray,
    looked_at: np.ndarray,
) -> np.ndarray:
    """-1 unlabelled, 0 legit, 1 fraud; see the module docstring for the policy."""
    label = np.full(fraud.size, -1, np.int8)
    labelled_ring = np.ones(ring_sizes.size, bool)
    labelled_ring[rng.permutation(ring_sizes.size)[: round(p.unlabelled_ring_fraction * ring_sizes.size)]] = False
    hit = (rng.random(ring_at.size) < p.chargeback_rate) & labelled_ring[ring_of]
    unhit = np.bincount(ring_of[hit], minlength=ring_sizes.size) == 0
    hit |= (_positions(rng, ring_sizes) == 0) & labelled_ring[ring_of] & unhit[ring_of]
    flagged = np.concatenate([ring_at[hit], lone_at[rng.random(lone_at.size) < p.chargeback_rate]])
    budget = round(p.label_rate * n_main)
    if flagged.size > int(0.8 * budget):
        flagged = rng.choice(flagged, int(0.8 * budget), replace=False)
    label[flagged] = 1
    # Investigators clear accounts that looked suspicious more often than random ones.
    candidates = np.flatnonzero(~fraud[:n_main])
    weight = 1.0 + 2.0 * np.isin(kind[candidates], (HOUSEHOLD, AGENCY)) + looked_at[candidates]
    keys = rng.random(candidates.size) ** (1.0 / weight)
    label[candidates[np.argsort(-keys, kind="stable")[: max(0, budget - flagged.size)]]] = 0
    return label


# ---------------------------------------------------------------- output

_M60 = np.uint64((1 << 60) - 1)
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def identifier_tokens(identifiers: np.ndarray, salt: int) -> list[str]:
    """Hex fingerprint tokens, distinct for distinct identifier indices below 2**60."""
    x = (identifiers.astype(np.uint64) + np.uint64(salt)) & _M60
    for mul, shift in ((0x9E3779B97F4A7C15, 29), (0xBF58476D1CE4E5B9, 32)):  # odd multiply, xorshift: a bijection
        x = (x * np.uint64(mul)) & _M60
        x ^= x >> np.uint64(shift)
    return hex_tokens(x)


def hex_tokens(x: np.ndarray) -> list[str]:
    """The 15 hex digits of each 60-bit value with a letter a-f after the eighth. The letter caps
    decimal-digit runs at 8, so no token can ever read as a card number (13-19 digits)."""
    nibbles = (x[:, None] >> np.arange(56, -4, -4, dtype=np.uint64)) & np.uint64(15)
    chars = np.empty((x.size, 16), np.uint8)
    chars[:, :8] = _HEX[nibbles[:, :8]]
    chars[:, 8] = _HEX[10 + x % np.uint64(6)]
    chars[:, 9:] = _HEX[nibbles[:, 8:]]
    return chars.view("S16").ravel().astype(str).tolist()


class _Clock:
    """RFC 3339 strings for offsets from `start`, from per-day and per-second tables: numpy's
    datetime formatting would cost seconds per million timestamps."""

    def __init__(self, start: datetime, last: int) -> None:
        self.epoch = int(start.timestamp())
        first_day = datetime.fromtimestamp(self.epoch // DAY * DAY, UTC)
        self.day0 = self.epoch // DAY
        n_days = (self.epoch + last) // DAY - self.day0 + 1
        self.days = np.array([(first_day + timedelta(days=d)).strftime("%Y-%m-%dT") for d in range(n_days)], object)
        self.seconds = np.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(DAY)], object)

    def __call__(self, offsets: np.ndarray) -> list[str]:
        t = self.epoch + offsets
        return (self.days[t // DAY - self.day0] + self.seconds[t % DAY]).tolist()  # type: ignore[no-any-return]


def _attribute_texts(world: World, lo: int, hi: int) -> list[str]:
    """`,"name":value` fragments per account, missing attributes left out."""
    text = np.full(hi - lo, "", object)
    for name, kind, values, categories in world.attributes:
        v = values[lo:hi]
        if kind == "float":
            text += np.array([f',"{name}":{x!r}' if x == x else "" for x in v.tolist()], object)
        elif kind == "int":
            text += np.array([f',"{name}":{x}' if x >= 0 else "" for x in v.tolist()], object)
        else:  # codes; -1 picks the trailing "" (missing)
            shown = [f'"{c}"' for c in categories] if kind == "cat" else ["false", "true"]
            text += np.array([f',"{name}":{c}' for c in shown] + [""], object)[v]
    return text.tolist()  # type: ignore[no-any-return]


_TYPE_HEAD = np.array([f'{{"type":"{t}","id":"{t}:' for t in ID_TYPES], object)
_LABEL = ("null", '"legit"', '"fraud"')
_FRAUD = tuple("true" if k in ("ring", "lone") else "false" for k in KINDS)


def _lines(world: World) -> Iterator[list[str]]:
    """The world's JSON lines, a chunk of accounts at a time. Every string in a record comes from
    a fixed alphabet without quotes or backslashes, so plain formatting is valid JSON; it matches
    `json.dumps(record, separators=(",", ":"))` exactly without building a dict per record."""
    n = world.created.size
    clock = _Clock(world.params.start, int(max(world.created.max(initial=0), world.link_seen.max(initial=0))))
    width = max(7, len(str(n - 1)))
    truth_tail = [f',"kind":"{k}","late":{late}}}' for k in KINDS for late in ("false", "true")]
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        l0, l1 = np.searchsorted(world.link_account, [lo, hi])
        ident = world.link_identifier[l0:l1]
        links = [
            f'{head}{token}","seen_at":"{seen}"}}'
            for head, token, seen in zip(
                _TYPE_HEAD[world.identifier_type[ident]].tolist(),
                identifier_tokens(ident, world.salt),
                clock(world.link_seen[l0:l1]),
                strict=True,
            )
        ]
        cut = np.searchsorted(world.link_account[l0:l1], np.arange(lo, hi + 1)).tolist()
        link_texts = [",".join(links[a:b]) for a, b in zip(cut[:-1], cut[1:], strict=True)]
        truths = [
            f'{{"fraud":{_FRAUD[k]},"group":"{_GROUP_PREFIX[k]}{g}"{truth_tail[2 * k + late]}'
            if g
            else f'{{"fraud":{_FRAUD[k]},"group":null{truth_tail[2 * k + late]}'
            for k, g, late in zip(
                world.kind[lo:hi].tolist(), world.group[lo:hi].tolist(), world.late[lo:hi].tolist(), strict=True
            )
        ]
        yield [
            f'{{"id":"a{i:0{width}d}","created_at":"{created}","attributes":{{{attrs[1:]}}},'
            f'"links":[{link_text}],"label":{_LABEL[label + 1]},"truth":{truth}}}\n'
            for i, created, attrs, link_text, label, truth in zip(
                range(lo, hi),
                clock(world.created[lo:hi]),
                _attribute_texts(world, lo, hi),
                link_texts,
                world.label[lo:hi].tolist(),
                truths,
                strict=True,
            )
        ]


def generate(params: WorldParams) -> Iterator[dict[str, Any]]:
    """The world's records in output order: main world by creation time, then the late stream."""
    for chunk in _lines(build_world(params)):
        # Parsing the written lines keeps one formatter, so records and files never disagree.
        yield from map(json.loads, chunk)


def write_jsonl(params: WorldParams, out: IO[str]) -> int:
    """Write the world as JSON lines; returns the number of records."""
    return write_world(build_world(params), out)


def write_world(world: World, out: IO[str]) -> int:
    for chunk in _lines(world):
        out.write("".join(chunk))
    return int(world.created.size)
