"""The typed Neo4j model: which label and relationship type each identifier type gets.

Cypher cannot take a label or a relationship type as a parameter, so the Cypher files spell
them out; this table is the one place Python chooses among them, keyed by the validated
`IdType` enum, never by input text (`tests/unit/test_neo4j_typed.py` checks the files agree):

    (:Account)-[:HAS_CARD    {first_seen, last_seen}]->(:Identifier:Card        {key, type, id})
    (:Account)-[:USES_DEVICE {first_seen, last_seen}]->(:Identifier:Device      {key, type, id})
    (:Account)-[:PAYS_OUT_TO {first_seen, last_seen}]->(:Identifier:BankAccount {key, type, id})
    (:Account)-[:MEMBER_OF]->(:Ring {id, risk, size, sweep_id, created_at, updated_at})

Account attributes are kept as JSON (`a.attributes`, what the store reads back) and, for names
Cypher users can write unquoted, as properties (`a.country`): see `attribute_properties`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ringfence.graph.model import ID_TYPES, IdType


@dataclass(frozen=True)
class TypedLink:
    label: str  # the identifier node's own label, beside :Identifier
    relationship: str  # the type of (:Account)-[...]->(identifier)
    param: str  # the upsert's parameter that carries this type's rows


TYPED_MODEL: dict[IdType, TypedLink] = {
    "bank_account": TypedLink("BankAccount", "PAYS_OUT_TO", "bank_accounts"),
    "card": TypedLink("Card", "HAS_CARD", "cards"),
    "device": TypedLink("Device", "USES_DEVICE", "devices"),
}
assert set(TYPED_MODEL) == set(ID_TYPES)
# The typed upsert processes types in this order: identifier keys start with the type, so it is
# also the global key order that keeps concurrent batches from deadlocking.
TYPE_ORDER: tuple[IdType, ...] = tuple(sorted(TYPED_MODEL))

# Properties the store itself writes on :Account; an attribute of the same name stays JSON-only.
RESERVED_PROPERTIES = frozenset({"id", "created_at", "attributes", "label", "labelled_at", "score_requested_at",
                                 "_lock"})
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
_INT64 = (-(2**63), 2**63 - 1)


@lru_cache(maxsize=4096)  # names repeat across accounts; a load checks millions of them
def property_name(name: str) -> bool:
    """Whether attribute `name` is also stored as an Account property: an ASCII identifier
    (letter first, letters, digits, `_`, at most 64) that the store does not use itself."""
    return bool(_NAME.match(name)) and name not in RESERVED_PROPERTIES


def property_value(value: Any) -> Any:
    """The property value of an attribute value, or None (no property) for what a Neo4j
    property cannot hold exactly: maps, lists, integers beyond 64 bits, null."""
    if isinstance(value, bool | str | float):
        return value
    if isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
        return value
    return None


def attribute_properties(attributes: dict[str, Any]) -> dict[str, Any]:
    """The properties to merge (`SET a += ...`) for these new attribute values. A name whose value
    cannot be a property maps to None, which removes a property an earlier value left."""
    return {k: property_value(v) for k, v in attributes.items() if property_name(k)}
