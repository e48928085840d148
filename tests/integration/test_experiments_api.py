"""/api/v1/consent/experiments over real HTTP on a real runtime (SQLite): a full experiment of
1,000 simulated subjects with a clear winner, stopping that keeps the results, and the 4xx
problems (naming the field, never echoing a subject)."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.config import Settings
from tests.support.experiment_data import publish_notices
from tests.support.http_server import serve
from tests.support.stack import make_shop
from tests.unit.fakes import AUTH, TOKEN, RecordingStarter, all_ok

BASE = "/api/v1/consent/experiments"
SUBJECTS = 1000
# Of every 20 subjects shown a variant, how many grant analytics. Counted per variant rather than
# drawn at random: assignment hashes the subject under the data dir's own lookup key, so which
# subject sees which variant changes between runs, and random draws made the p-value vary too.
GRANTS_PER_20 = {"control": 8, "short": 11}  # 40 % vs 55 %
BODY: dict[str, Any] = {
    "key": "banner_copy",
    "notice_key": "banner",
    "purpose": "analytics",
    "salt": "fixed-salt-for-a-reproducible-split",
    "variants": [
        {"name": "control", "notice_version": 1},
        {"name": "short", "notice_version": 2},
    ],
}


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    _, mapdir = make_shop(tmp_path, customers=3)
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", datamap_dir=mapdir))
    publish_notices(runtime.platform)
    yield runtime
    runtime.close()


@pytest.fixture
def http(runtime: Runtime) -> Iterator[httpx.Client]:
    deps = ApiDeps(
        platform=runtime.platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=all_ok,
    )
    # 3,000 calls from one client in seconds: the per-client rate limit is not under test here
    settings = Settings(data_dir=runtime.settings.data_dir, rate_limits_enabled=False)
    app = create_app(settings, deps)
    with serve(app) as base, httpx.Client(base_url=base, headers=AUTH) as client:
        yield client


def simulate(http: httpx.Client) -> dict[str, int]:
    """Each subject is assigned, shown their notice, and 9 in 10 choose; returns assignments
    per variant."""
    assigned = {"control": 0, "short": 0}
    chose = {"control": 0, "short": 0}
    for i in range(SUBJECTS):
        subject = {"subject": f"device_id:sim-{i}"}
        answer = http.post(f"{BASE}/banner_copy/assignments", json=subject)
        assert answer.status_code == 200, (i, answer.text)
        got = answer.json()
        assert got["notice_version"] == (1 if got["variant"] == "control" else 2)
        assigned[got["variant"]] += 1
        assert http.post(f"{BASE}/banner_copy/exposures", json=subject).status_code == 201
        if assigned[got["variant"]] % 10 != 0:  # 9 in 10 choose
            chose[got["variant"]] += 1
            granted = chose[got["variant"]] % 20 < GRANTS_PER_20[got["variant"]]
            answer = http.post(f"{BASE}/banner_copy/outcomes", json={**subject, "granted": granted})
            assert answer.json()["variant"] == got["variant"]
    return assigned


def test_full_experiment_finds_the_better_notice_and_stop_keeps_it(http: httpx.Client) -> None:
    created = http.post(BASE, json=BODY)
    assert created.status_code == 201
    assert created.json()["status"] == "draft"
    assert "salt" not in created.json()
    assert http.post(f"{BASE}/banner_copy/start").json()["status"] == "running"
    assigned = simulate(http)

    results = http.get(f"{BASE}/banner_copy/results").json()
    rows = {row["variant"]: row for row in results["variants"]}
    assert {v: rows[v]["assigned"] for v in rows} == assigned
    assert sum(rows[v]["exposures"] for v in rows) == SUBJECTS
    [short] = results["comparisons"]
    assert (short["variant"], short["control"]) == ("short", "control")
    assert short["p_value"] < 0.001
    assert 0 < short["ci_low"] < short["difference"] < short["ci_high"]
    assert short["difference"] == pytest.approx(
        rows["short"]["consent_rate"] - rows["control"]["consent_rate"]
    )
    assert results["sample_ratio"]["mismatch"] is False
    assert results["method"] == "newcombe-wilson"

    assert http.post(f"{BASE}/banner_copy/stop").json()["status"] == "stopped"
    after = http.post(f"{BASE}/banner_copy/assignments", json={"subject": "device_id:sim-1"})
    assert (after.json()["variant"], after.json()["recorded"]) == ("control", False)
    assert "wording 1" in after.json()["text"]
    late = http.post(f"{BASE}/banner_copy/exposures", json={"subject": "device_id:new"})
    assert late.status_code == 409
    assert http.post(f"{BASE}/banner_copy/start").status_code == 409
    kept = http.get(f"{BASE}/banner_copy/results").json()
    assert kept["variants"] == results["variants"]
    assert kept["status"] == "stopped"
    listed = http.get(BASE, params={"status": "stopped"}).json()["items"]
    assert [x["key"] for x in listed] == ["banner_copy"]


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"variants": [BODY["variants"][0], {"name": "b", "notice_version": 7}]},
         "variants.1.notice_version", "v7"),
        ({"variants": BODY["variants"][:1]}, "variants", "at least 2"),
        ({"variants": [BODY["variants"][0], {**BODY["variants"][0], "notice_version": 2}]},
         "variants.1.name", "unique"),
        ({"variants": [BODY["variants"][0], {**BODY["variants"][1], "weight": 0}]},
         "variants.1.weight", "greater than 0"),
        ({"purpose": "nope"}, "purpose", "nope"),
    ],
)  # fmt: skip
def test_bad_definitions_are_422_naming_the_field(
    http: httpx.Client, change: dict[str, Any], field: str, says: str
) -> None:
    body = problem(http.post(BASE, json={**BODY, **change}), 422)
    assert says in str(body)
    assert field in str(body)
    assert http.get(BASE).json()["items"] == []


def test_state_and_subject_problems(http: httpx.Client) -> None:
    assert http.post(BASE, json=BODY).status_code == 201
    problem(http.post(BASE, json=BODY), 409)  # the key exists
    problem(http.get(f"{BASE}/no_such"), 404)
    draft = http.post(f"{BASE}/banner_copy/assignments", json={"subject": "user_id:u-1"})
    assert "draft" in problem(draft, 409)["detail"]
    http.post(f"{BASE}/banner_copy/start")
    secret = "x" * 400
    too_long = problem(http.post(f"{BASE}/banner_copy/outcomes", json={"subject": secret}), 422)
    assert secret not in str(too_long)
    blank = problem(http.post(f"{BASE}/banner_copy/exposures", json={"subject": "email: "}), 422)
    assert "subject" in str(blank)
