"""schemathesis against the app's own OpenAPI document: every check it has, every phase.

Three passes over one throwaway app (tests/support/fuzz_app.py):
- as the bootstrap owner, so every route runs past authorization (examples, coverage and
  fuzzing phases, one pytest item per operation);
- without credentials: every route that names a scope must answer 401 with a problem body;
- stateful, as the owner: sequences that follow the OpenAPI links (submit -> read, cancel,
  approve, deny, ...).
Zero server errors, zero answers that break the document. Bounded and deterministic: a fixed
seed, derandomized generation, a cap on examples per operation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis import Case, Response
from schemathesis.core.failures import FailureGroup
from schemathesis.schemas import BaseSchema

from rightsflow.api.problems import PROBLEM_MEDIA_TYPE
from tests.support.fuzz_app import OWNER_TOKEN, fuzz_app

pytestmark = pytest.mark.slow

SEED = 20260306
MAX_EXAMPLES = 25  # per operation and phase; the whole file runs in well under 3 minutes
STATEFUL_SCENARIOS = 150
STATEFUL_STEPS = 8
STATEFUL_RUNS = 5  # runs of the machine until STATEFUL_SCENARIOS ran (see the test)
MIN_STATEFUL_SCENARIOS = 50  # at the least, whatever Hypothesis makes of the app's state
STATEFUL_SETTINGS = hypothesis.settings(
    max_examples=STATEFUL_SCENARIOS,
    stateful_step_count=STATEFUL_STEPS,
    derandomize=True,
    database=None,
    # No shrinking: the app keeps its state between scenarios, so a replay can take another
    # path; the first failure is reported as found, with its curl line.
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    # A per-example deadline on a shared 2-core CI machine only makes this flaky; the run is
    # bounded by the scenario and step counts instead.
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)

# Operations whose acceptance depends on facts the document cannot state, so a request that
# fits the schema may still be refused; schemathesis' positive_data_acceptance is told which
# status that refusal has for these only (every other check still runs on them):
_SEMANTIC_REFUSALS = {
    # identities must be types the data map knows, corrections fields it holds, policies exist
    "POST /api/v1/privacy-requests": "422",
    # cursors are opaque and only valid when this API issued them
    "GET /api/v1/privacy-requests": "422",
    "GET /api/v1/audit": "422",
    "GET /api/v1/bulk-jobs": "422",
    # a bulk job's file must name identity types and hold valid identities
    "POST /api/v1/bulk-jobs": "422",
    # `since` may not follow `until`, periods are bounded by the regime
    "GET /api/v1/audit/export": "422",
    "POST /api/v1/privacy-requests/{request_id}/extend": "422",
    # the year may not be in the future; `from` may not follow `to`; tz is an IANA name
    "GET /api/v1/reports/ccpa": "422",
    "GET /api/v1/reports/summary": "422",
    # a client's name must be printable as Python means it (Unicode categories), which a
    # JSON Schema pattern cannot say portably
    "POST /api/v1/clients": "422",
    # only payloads this platform sealed (for a request whose key still exists) can be opened
    "POST /codec/decode": "422",
    # OAuth2 (RFC 6749 5.2) refuses with 400, e.g. credentials both in Basic auth and the form
    "POST /oauth/token": "400",
    # a notice's purposes must exist and not be retired; a purpose is not essential and gpc at once
    "POST /api/v1/consent/notices/{key}/versions": "422",
    "PUT /api/v1/consent/purposes/{key}": "422",
    # an experiment's notice versions and purpose must exist, its variant names be unique; a
    # subject's value is 1 to 256 characters after its optional kind prefix
    "POST /api/v1/consent/experiments": "422",
    "POST /api/v1/consent/experiments/{key}/assignments": "422",
    "POST /api/v1/consent/experiments/{key}/exposures": "422",
    "POST /api/v1/consent/experiments/{key}/outcomes": "422",
    # a subject is 1 to 256 characters after its optional kind prefix; regimes are known ones
    "GET /api/v1/consent/{subject}": "422",
    "POST /api/v1/consent/{subject}": "422",  # an unknown purpose or notice version
    "POST /api/v1/consent/links": "422",  # a link from a user id, or to a device
    "GET /api/v1/consent/{subject}/history": "422",  # a subject's length after its kind
    "POST /api/v1/consent/bulk-read": "422",
}
OWNER = {"Authorization": f"Bearer {OWNER_TOKEN}"}
_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]  # schemathesis' default, 5xx out


def _config(headers: dict[str, str]) -> schemathesis.Config:
    data: dict[str, Any] = {
        "seed": SEED,
        "headers": headers,
        "generation": {"deterministic": True, "max-examples": MAX_EXAMPLES},
        "operations": [
            {
                "include-name": name,
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, refusal]}
                },
            }
            for name, refusal in _SEMANTIC_REFUSALS.items()
        ],
    }
    return schemathesis.Config.from_dict(data)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    with fuzz_app(Path(tmp_path_factory.mktemp("schemathesis"))) as built:
        yield built


@pytest.fixture(scope="module")
def owner_schema(app: FastAPI) -> BaseSchema:
    config = _config(OWNER)
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@pytest.fixture(scope="module")
def anonymous_schema(app: FastAPI) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=_config({}))


owner = schemathesis.pytest.from_fixture("owner_schema")
anonymous = schemathesis.pytest.from_fixture("anonymous_schema")


@owner.parametrize()
def test_owner_gets_no_server_errors_and_answers_that_fit_the_schema(case: Case) -> None:
    # Passed here too (not only in the config) so ignored_auth knows the credential is real and
    # probes the route without it and with a made-up one.
    case.call_and_validate(headers=OWNER)


@anonymous.parametrize()
def test_without_credentials_every_protected_route_is_a_401_problem(case: Case) -> None:
    response = case.call_and_validate()
    if case.operation.definition.raw.get("x-required-scope") is None:
        return  # public by design (health, DRP, subject and task tokens): checked above only
    if case.method.upper() != case.operation.method.upper():
        return  # an unsupported-method probe: a 405 before any route runs
    assert response.status_code == 401, response.text
    assert response.headers["content-type"][0] == PROBLEM_MEDIA_TYPE


def test_stateful_sequences_along_the_links(owner_schema: BaseSchema) -> None:
    failures: list[str] = []
    scenarios: list[int] = []

    class Machine(owner_schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(
            self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                # The owner credential goes to the checks too, so that ignored_auth knows it
                # is real (it then probes each route without it and with a made-up one).
                case.validate_response(
                    response,
                    additional_checks=additional_checks,
                    headers=OWNER,
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except FailureGroup as found:
                failures.append(str(found))  # reported below, whatever Hypothesis does next
                raise

        def teardown(self) -> None:
            scenarios.append(1)
            super().teardown()

    # The app keeps its state between scenarios (a cancelled request stays cancelled), so
    # Hypothesis may see one choice lead two ways and stop: schemathesis' own runner treats that
    # the same way and goes on. No failure is lost to it: each is recorded as it happens.
    for _ in range(STATEFUL_RUNS):
        with contextlib.suppress(hypothesis.errors.Flaky):
            Machine.run(settings=STATEFUL_SETTINGS)
        if failures or len(scenarios) >= STATEFUL_SCENARIOS:
            break
    assert not failures, "\n\n".join(failures)
    assert len(scenarios) >= MIN_STATEFUL_SCENARIOS, len(scenarios)
