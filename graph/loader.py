"""Turns JSON records (the API's AccountIn shape, plus optional `label`) into store writes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from ringfence.core.clock import utcnow
from ringfence.core.errors import InvalidInput
from ringfence.core.json_input import parse_json
from ringfence.graph.model import ID_TYPES, AccountIn, LabelIn, Link, parse_ts
from ringfence.graph.store import GraphStore
from ringfence.graph.validation import check_id, check_no_pan

MAX_ATTRIBUTES = 64
MAX_LINKS = 256


def account_from_record(record: dict[str, Any]) -> AccountIn:
    """Validate one record; raises `InvalidInput` / `PanNotAllowed`. Unknown keys are ignored
    here because generator records carry `truth` for benchmarks (never stored)."""
    try:
        account_id = check_id(record["id"], "account id")
        attributes = record.get("attributes") or {}
        links_in = record.get("links") or []
        if not isinstance(attributes, dict) or len(attributes) > MAX_ATTRIBUTES:
            raise InvalidInput(f"attributes must be an object with at most {MAX_ATTRIBUTES} keys")
        if not isinstance(links_in, list) or len(links_in) > MAX_LINKS:
            raise InvalidInput(f"links must be a list of at most {MAX_LINKS}")
        check_no_pan(attributes.keys(), "attribute names")
        check_no_pan(attributes.values(), "attribute values")
        links = []
        for link in links_in:
            if link["type"] not in ID_TYPES:
                raise InvalidInput(f"link type must be one of {', '.join(ID_TYPES)}")
            seen = link.get("seen_at")
            links.append(Link(link["type"], check_id(link["id"], "identifier id"), parse_ts(seen) if seen else None))
        created = record.get("created_at")
        return AccountIn(account_id, parse_ts(created) if created else utcnow(), attributes, tuple(links))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"malformed account record: {exc.__class__.__name__}") from exc


@dataclass
class LoadStats:
    accounts: int = 0
    links: int = 0
    labels: int = 0


def read_jsonl(stream: IO[str]) -> Iterator[dict[str, Any]]:
    for n, line in enumerate(stream, 1):
        if line.strip():
            try:
                yield parse_json(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"line {n} is not JSON") from exc


def load_records(
    store: GraphStore, records: Iterable[dict[str, Any]], batch_size: int = 5_000, label_source: str = "import"
) -> Iterator[LoadStats]:
    """Upsert records in batches (each batch all-or-nothing); yields running totals per batch.

    A record's `label` is recorded as a label event dated at the account's creation, so
    loading the same file twice adds nothing.

    Batches are written in order by one writer thread while the next one is parsed and
    validated here: the store (a Neo4j server's CPU, mostly) and the parsing overlap instead of
    taking turns. At most one batch is in flight; a failed batch raises here, after the batches
    before it were written and before any after it is.
    """
    stats = LoadStats()
    batch: list[AccountIn] = []
    labels: list[LabelIn] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ringfence-load") as writer:
        pending: Future[None] | None = None
        for record in records:
            account = account_from_record(record)
            batch.append(account)
            if record.get("label") in ("fraud", "legit"):
                labels.append(LabelIn(account.id, record["label"], label_source, None, account.created_at))
            if len(batch) >= batch_size:
                if pending is not None:
                    pending.result()
                    yield stats
                pending = writer.submit(_flush, store, batch, labels, stats)
                batch, labels = [], []
        if pending is not None:
            pending.result()
            yield stats
        if batch:
            _flush(store, batch, labels, stats)
            yield stats


def _flush(store: GraphStore, batch: list[AccountIn], labels: list[LabelIn], stats: LoadStats) -> None:
    accounts, links = store.upsert_accounts(batch)
    if labels:
        stats.labels += store.add_labels(labels)
    stats.accounts += accounts
    stats.links += links
