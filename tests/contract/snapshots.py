"""The whole observable state of a store, to compare two stores or one store before and after."""

from __future__ import annotations

from ringfence.graph.store import GraphStore


def snapshot(
    store: GraphStore, chunk: int = 7, labelled_only: bool = False
) -> tuple[list[tuple], list[tuple], dict[str, list[tuple]]]:
    """The whole observable state; small chunks by default so that paging is exercised."""
    accounts = [(a.id, a.created_at, a.attributes, a.label) for c in store.stream_accounts(chunk) for a in c]
    links = [(x.account_id, x.type, x.id, x.first_seen) for c in store.stream_links(chunk) for x in c]
    labels = {
        a[0]: [(e.label, e.source, e.at) for e in store.label_history(a[0])]
        for a in accounts
        if not labelled_only or a[3] is not None
    }
    return accounts, links, labels
