"""schemathesis against the OpenAPI document: no 5xx, and responses match the schema.

A few examples per operation (kept fast); a SQLite store serving a flow.
Every check runs but one: a request valid by the schema may still be
refused with 400 for a rule of the service (an entry routine without a
trigger slot, two idempotency keys that differ), which the schema does not
say.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from server_flows import make_flow

from routilux.server import create_app
from routilux.server.keys import create_key
from routilux.stores import SqliteStore

_STORE = SqliteStore(Path(__import__("tempfile").mkdtemp()) / "jobs.db")
_, _TOKEN = create_key(_STORE, "admin")
APP = create_app(_STORE, flows=[make_flow()], rate_limit=None)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _close_app():  # type: ignore[no-untyped-def]
    yield
    APP.state.service.close()
    for flow in APP.state.service.flows.values():
        flow.shutdown(wait=True, timeout=20)
    _STORE.close()


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {_TOKEN}"},
        excluded_checks=[positive_data_acceptance],
    )


def test_the_document_describes_the_answers_the_service_gives() -> None:
    document = APP.openapi()
    start = document["paths"]["/flows/{flow_id}/jobs"]["post"]
    assert set(start["responses"]) >= {"200", "201", "400", "401", "403", "404", "409"}
    assert "422" not in start["responses"]
    created = start["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/JobCreated"}
    assert "ErrorResponse" in document["components"]["schemas"]
