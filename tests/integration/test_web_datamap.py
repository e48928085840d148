"""The console's data map over the real app, the shop's SQLite database and its data map: the
graph and table of systems with live health, and the add-a-system form generated from the
`sql` connector's config schema (errors per field, secrets never shown back)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsflow.domain.access import Role
from tests.support.web_stack import WebStack, csrf_of, web_stack

NEW_SQL = "/console/datamap/systems/new/sql"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[WebStack]:
    with web_stack(tmp_path, customers=2) as built:
        yield built


def _svg(html: str) -> str:
    found = re.search(r"<svg.*?</svg>", html, re.DOTALL)
    assert found is not None, "the page has no graph"
    return found.group(0)


def test_the_data_map_shows_the_shop_in_the_graph_and_the_table(stack: WebStack) -> None:
    page = stack.signed_in(Role.VIEWER).get("/console/datamap")
    assert page.status_code == 200, page.text
    svg = _svg(page.text)
    assert 'role="img"' in svg
    for name in ("shop", "customers", "orders", "addresses"):
        assert f">{name}<" in svg, name
    table = page.text.split("<svg")[0]
    assert '<th scope="row">shop</th>' in table
    assert "<td>sql</td>" in table
    assert "delete, mask, retrieve" in table
    assert '<span class="badge ok">up</span>' in table  # the shop's SQLite file answers
    assert "shop:orders.customer_id" in page.text  # a reference, in the references table
    assert "Add a system" not in page.text  # a viewer may not change the data map


def test_a_system_that_cannot_be_reached_is_down_without_its_url(stack: WebStack) -> None:
    db = Path(stack.runtime.platform.datamap.systems[0].config["url"].removeprefix("sqlite:///"))
    stack.runtime.platform.connectors.for_system("shop").close()  # drop the open pool
    db.rename(db.with_suffix(".gone"))
    db.mkdir()  # a directory where the database was: SQLite cannot open it
    page = stack.signed_in(Role.OWNER).get("/console/datamap")
    assert page.status_code == 200
    assert '<span class="badge failed">down</span>' in page.text
    assert str(db) not in page.text
    assert "Add a system" in page.text


def test_only_who_may_change_the_data_map_gets_the_forms(stack: WebStack) -> None:
    assert stack.client().get("/console/datamap").status_code == 303  # sign in first
    viewer = stack.signed_in(Role.VIEWER)
    assert viewer.get("/console/datamap/systems/new").status_code == 403
    assert viewer.get(NEW_SQL).status_code == 403
    token = csrf_of(viewer.get("/console/datamap").text)
    refused = viewer.post(NEW_SQL, data={"csrf_token": token, "key": "x", "datasets": "x"})
    assert refused.status_code == 403
    assert stack.signed_in(Role.OWNER).get("/console/datamap/systems/nope").status_code == 404
    assert stack.signed_in(Role.OWNER).get("/console/datamap/systems/new/nope").status_code == 404


def test_the_kinds_and_the_sql_form_come_from_the_connectors(stack: WebStack) -> None:
    owner = stack.signed_in(Role.OWNER)
    kinds = owner.get("/console/datamap/systems/new")
    assert kinds.status_code == 200
    for kind in ("sql", "parquet", "redis", "saas", "manual", "http_service"):
        assert f'href="/console/datamap/systems/new/{kind}"' in kinds.text, kind
    form = owner.get(NEW_SQL)
    assert form.status_code == 200, form.text
    assert '<label for="cfg-url">Url (required)</label>' in form.text
    assert 'id="cfg-url" name="cfg.url" required' in form.text
    assert 'id="cfg-chunk_size" name="cfg.chunk_size"' in form.text
    assert 'value="1000"' in form.text  # the default
    assert '<label for="cfg-schema">Schema</label>' in form.text  # optional: not required


def test_a_bad_post_shows_errors_by_field_and_never_the_secret(stack: WebStack) -> None:
    owner = stack.signed_in(Role.OWNER)
    token = csrf_of(owner.get(NEW_SQL).text)
    secret_url = "postgresql://app:hunter2-secret@db.internal/shop"
    sent = {
        "csrf_token": token,
        "key": "shop",  # taken
        "datasets": "shop",  # bound to shop already
        "cfg.url": secret_url,
        "cfg.chunk_size": "lots",
        "cfg.pool_size": "0",
    }
    answer = owner.post(NEW_SQL, data=sent)
    assert answer.status_code == 422, answer.text
    assert "a system with this key already exists" in answer.text
    assert "already bound to another system: shop (shop)" in answer.text
    assert 'id="cfg-chunk_size-error">enter a whole number<' in answer.text
    assert 'id="cfg-pool_size-error">input should be greater than or equal to 1<' in answer.text
    assert (
        'aria-describedby="cfg-pool_size-hint cfg-pool_size-error" aria-invalid="true"'
        in answer.text
    )
    assert '<a href="#cfg-pool_size">' in answer.text  # the summary links to the field
    assert "hunter2" not in answer.text
    assert "db.internal" not in answer.text


def test_a_good_post_answers_the_entry_with_secrets_as_variables(stack: WebStack) -> None:
    owner = stack.signed_in(Role.OWNER)
    token = csrf_of(owner.get(NEW_SQL).text)
    sent = {
        "csrf_token": token,
        "key": "billing",
        "datasets": "billing",
        "cfg.url": "postgresql://app:hunter2-secret@db.internal/billing",
        "cfg.chunk_size": "500",
        "cfg.schema": "",
    }
    answer = owner.post(NEW_SQL, data=sent)
    assert answer.status_code == 200, answer.text
    assert "System billing is ready to add" in answer.text
    assert "connector: sql" in answer.text
    assert "chunk_size: 500" in answer.text
    assert "url: ${RIGHTSFLOW_BILLING_URL}" in answer.text
    assert "schema" not in answer.text.split("<code>")[1]  # left out: the default applies
    assert "hunter2" not in answer.text
    assert "db.internal" not in answer.text
