"""Schemathesis against the app's own OpenAPI schema, with every default check.

`not_a_server_error`, status code / content type / header / response schema conformance,
positive and negative data, `ignored_auth`, unsupported methods, ... all must pass.

Two request properties cannot be written in JSON Schema, so the generated data is adjusted
instead of the checks: a cursor is opaque (a generated string is not one the server issued,
so it is swapped for a real one), and a value shaped like a card number (Luhn-valid digits)
is refused anywhere (positive cases holding one are dropped; the rule has its own tests).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesis
import pytest
import schemathesis

from ringfence.api.app import create_app
from ringfence.core.cards import holds_pan
from ringfence.graph import cursor as cursors
from tests.support.clients import TORCH_SPARSE
from tests.support.settings import ADMIN, make_settings

# One app for the whole module (schemathesis keeps its lifespan running for the process).
_DATA = Path(tempfile.mkdtemp(prefix="ringfence-schemathesis-"))
app = create_app(make_settings(_DATA))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
START = app.state.cursor_seal.seal(cursors.encode(s="", r=2.0, i="", f=-1.0))  # before every item of every list


def adjust(case: schemathesis.Case) -> bool:
    """Swap a generated cursor for a real one; False for a positive case holding a card number."""
    query = case.query
    if query and isinstance(query.get("cursor"), str) and 1 <= len(query["cursor"]) <= 2048:
        query["cursor"] = START
    positive = case.meta is None or case.meta.generation.mode.is_positive
    return not (positive and holds_pan([case.body, case.query, case.path_parameters]))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@TORCH_SPARSE
@schema.parametrize()
@hypothesis.settings(
    max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    if adjust(case):
        case.call_and_validate(headers=ADMIN)


def test_the_default_checks_include_those_the_issue_names() -> None:
    # `call_and_validate` without `checks=` runs this set; the issue names three of them.
    from schemathesis.checks import CheckContext, load_all_checks

    load_all_checks()
    operation = next(iter(schema.get_all_operations())).ok()
    config = schema.config.checks_config_for(operation=operation, phase=None)
    ctx = CheckContext(override=None, auth=None, headers=None, config=config, transport_kwargs=None, recorder=None,
                       response_checks=[])
    names = {check.__name__ for check in ctx.internals.checks}
    assert {"not_a_server_error", "response_schema_conformance", "ignored_auth", "status_code_conformance",
            "negative_data_rejection", "unsupported_method"} <= names
