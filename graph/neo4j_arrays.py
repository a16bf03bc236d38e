"""`Neo4jStore.load_arrays`: accounts and their links in one pass over the driver's raw pages.

Private to the Neo4j backend, and driver-free: it codes the rows of the `stream_graph` query
(epoch floats, attribute JSON text) as the store hands them over. Each page is one read,
consistent in itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from ringfence.graph.arrays import LABEL_CODE, AccountColumns, AttributeSpec, GraphArrays, LinkColumns
from ringfence.graph.model import IdentifierKey


def arrays_from_pages(
    pages: Iterable[list[list[Any]]], benign: set[IdentifierKey], attributes: bool | AttributeSpec
) -> GraphArrays:
    """From pages of [id, created_at, attributes (JSON), label, labelled_at, [[type, id, first_seen], ...]]
    rows, accounts in id order."""
    ids: list[str] = []
    created: list[float] = []
    label: list[int] = []
    labelled: list[float | None] = []
    attrs: list[dict[str, Any]] = []
    links = LinkColumns({})
    for rows in pages:
        cols = list(zip(*rows, strict=True))
        base = len(ids)
        ids.extend(cols[0])
        created.extend(cols[1])
        label.extend(LABEL_CODE.get(x, -1) if x else -1 for x in cols[3])
        labelled.extend(cols[4])
        if attributes is not False:
            attrs.extend(map(json.loads, cols[2]))
        counts = [len(x) for x in cols[5]]
        flat = [link for account_links in cols[5] for link in account_links]
        if flat:
            t, v, f = zip(*flat, strict=True)
            acc_codes = np.repeat(np.arange(base, base + len(counts), dtype=np.int32), counts)
            links.add_coded(acc_codes, t, v, f)
    acc = AccountColumns(ids, created, label, labelled)
    acc.attach(attributes, attrs)
    return links.finish(acc, benign)
