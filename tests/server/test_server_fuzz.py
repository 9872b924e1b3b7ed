"""Schema-driven fuzzing (schemathesis) against the served OpenAPI document: no input gives a 5xx, and
every response matches what the document declares.

Each operation gets a bounded number of generated requests (valid and invalid, with an admin token so
requests get past auth into validation and the store). /v1/stream is excluded: it never ends by design
(tests/server/test_server_live.py covers it).
"""

from __future__ import annotations

from collections.abc import Iterator
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from conftest import RunningService, start_service


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    # access log on: the teardown checks that no request line ever carries the token
    svc = start_service(tmp_path_factory.mktemp("fuzz"), demo=True, extra_args=["--rate-limit", "0"])
    yield svc
    svc.stop()
    logs = "".join(svc.output)
    assert "Traceback" not in logs, logs[-3000:]
    assert svc.admin_token not in logs


@pytest.fixture(scope="module")
def api_schema(fuzz_service: RunningService) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_service.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/v1/stream")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_gives_a_server_error(case: schemathesis.Case, fuzz_service: RunningService) -> None:
    # no 5xx; and every answer matches the document: success bodies their schema, every 4xx problem+json
    case.call_and_validate(headers=fuzz_service.headers(), timeout=10,
                           checks=[not_a_server_error, response_schema_conformance, content_type_conformance])


def test_openapi_document_lists_every_contract_row(fuzz_service: RunningService) -> None:
    paths = httpx.get(f"{fuzz_service.url}/openapi.json").json()["paths"]
    expected = {"/v1/environments": {"get"}, "/v1/flags": {"get", "post"},
                "/v1/flags/{key}": {"get", "patch", "delete"}, "/v1/flags/{key}/restore": {"post"},
                "/v1/evaluate": {"post"}, "/v1/stream": {"get"}, "/v1/audit": {"get"}, "/v1/audit/verify": {"get"},
                "/v1/metrics": {"post"}, "/v1/metrics/flags/{key}": {"get"}, "/metrics": {"get"},
                "/healthz": {"get"}}
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    patch_body = paths["/v1/flags/{key}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert "changeReason" in patch_body["required"]
    problem = paths["/v1/flags/{key}"]["patch"]["responses"]["4XX"]["content"]["application/problem+json"]
    assert problem["schema"]["required"] == ["type", "title", "status", "detail"]
    assert "304" in paths["/v1/flags"]["get"]["responses"]
