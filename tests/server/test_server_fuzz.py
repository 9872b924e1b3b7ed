"""Schema-driven fuzzing (schemathesis) against the served OpenAPI document: no input gives a 5xx, and
every response matches what the document declares.

Each operation gets a bounded number of generated requests (valid and invalid), first with an admin token
so requests get past auth into validation and the store, then with a token limited to `dev` (the scoped
read paths). Besides "no 5xx" and conformance of bodies and content types, the 405 Allow header must list
the documented methods and auth must not be ignored. /v1/stream is excluded: it never ends by design
(tests/server/test_server_live.py covers it). Bounded to stay well under a minute on 2 busy cores
(hypothesis examples per operation, derandomized so a failure reproduces).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from conftest import RunningService, start_service
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_schema_conformance,
)


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    # access log on: the teardown checks that no request line ever carries the token
    # no rate limit and no failed-auth throttle: the fuzzer's own invalid-token probes must not lock it out
    svc = start_service(
        tmp_path_factory.mktemp("fuzz"), demo=True, extra_args=["--rate-limit", "0", "--auth-failures", "0"]
    )
    yield svc
    svc.stop()
    logs = "".join(svc.output)
    assert "Traceback" not in logs, logs[-3000:]
    assert svc.admin_token not in logs


@pytest.fixture(scope="module")
def api_schema(fuzz_service: RunningService) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_service.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/v1/stream")


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    allow_header_conformance,
    ignored_auth,
]


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_gives_a_server_error(case: schemathesis.Case, fuzz_service: RunningService) -> None:
    # no 5xx; and every answer matches the document: success bodies their schema, every 4xx problem+json
    case.call_and_validate(headers=fuzz_service.headers(), timeout=10, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_gives_a_server_error_to_a_scoped_token(case: schemathesis.Case, fuzz_service: RunningService) -> None:
    # a token for dev only: 403s where it may not go, and the scoped read paths never fail
    case.call_and_validate(headers=fuzz_service.headers(fuzz_service.writer_dev_token), timeout=10, checks=CHECKS)


def test_openapi_document_lists_every_contract_row(fuzz_service: RunningService) -> None:
    paths = httpx.get(f"{fuzz_service.url}/openapi.json").json()["paths"]
    expected = {
        "/v1/environments": {"get"},
        "/v1/flags": {"get", "post"},
        "/v1/flags/{key}": {"get", "patch", "delete"},
        "/v1/flags/{key}/restore": {"post"},
        "/v1/evaluate": {"post"},
        "/v1/stream": {"get"},
        "/v1/audit": {"get"},
        "/v1/audit/verify": {"get"},
        "/v1/audit/export": {"get"},
        "/v1/metrics": {"post"},
        "/v1/metrics/flags/{key}": {"get"},
        "/metrics": {"get"},
        "/healthz": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    patch_body = paths["/v1/flags/{key}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert "changeReason" in patch_body["required"]
    problem = paths["/v1/flags/{key}"]["patch"]["responses"]["4XX"]["content"]["application/problem+json"]
    assert problem["schema"]["required"] == ["type", "title", "status", "detail"]
    assert "304" in paths["/v1/flags"]["get"]["responses"]
