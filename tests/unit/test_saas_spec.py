"""Vendor files of the `saas` connector: every problem is reported with its YAML path and line,
and the system config is checked against the vendor file without echoing secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from rightsflow.connectors.registry import ConnectorRegistry
from rightsflow.connectors.saas import SAAS_CONNECTOR, SaasConfig
from rightsflow.connectors.saas_spec import CursorPages, OffsetPages, load_vendor, parse_vendor
from rightsflow.domain.errors import InvalidInput

SHIPPED = Path(__file__).parents[2] / "src" / "rightsflow" / "sample" / "saas"

GOOD = """\
name: acme
base_url: https://api.acme.test
secrets: [api_key]
auth:
  kind: bearer
  token: "{api_key}"
check: {path: /ping}
collections:
  users:
    primary_key: [id]
    read:
      - by: email
        path: /users
        query: {email: "{email}"}
        rows_at: data
        pagination: {kind: cursor, param: after, next_from: next}
      - by: id
        path: /users/{id}
    update: {method: PATCH, path: "/users/{id}"}
    delete: {method: DELETE, path: "/users/{id}"}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_vendor(text, "acme.yml")
    message = str(caught.value)
    assert message.startswith("vendor file acme.yml: ")
    return message.removeprefix("vendor file acme.yml: ").split("; ")


def test_a_good_file_loads() -> None:
    vendor = parse_vendor(GOOD)
    users = vendor.collections["users"]
    assert [op.by for op in users.read] == [("email",), ("id",)]
    assert isinstance(users.read[0].pagination, CursorPages)
    assert users.delete is not None
    assert len(users.delete.steps) == 1


@pytest.mark.parametrize("name", ["stripe", "okta", "zendesk", "sendgrid"])
def test_every_shipped_vendor_file_is_valid(name: str) -> None:
    vendor = load_vendor(SHIPPED / f"{name}.yml")
    assert vendor.name == name
    assert all(c.read for c in vendor.collections.values())


def test_the_shipped_files_cover_every_pagination_kind() -> None:
    kinds = {
        op.pagination.kind
        for name in ("stripe", "okta", "zendesk")
        for collection in load_vendor(SHIPPED / f"{name}.yml").collections.values()
        for op in collection.read
        if op.pagination is not None
    }
    assert kinds == {"cursor", "link", "offset"}
    zendesk = load_vendor(SHIPPED / "zendesk.yml").collections["users"].read[0].pagination
    assert isinstance(zendesk, OffsetPages)
    assert zendesk.unit == "pages"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  token:", "  tokn:", ["line 4: auth.token: required", "line 6: auth.tokn: unknown key"]),
        ("kind: bearer", "kind: magic", ["line 4: auth: "]),
        ("/users/{id}\n    update", "/users/{uid}\n    update", [
            "line 18: collections.users.read[1].path: unknown placeholder {uid}: use a field "
            "named in `by` (id)",
            "line 17: collections.users.read[1].by: id is never sent: use {id} in path, "
            "query or body",
        ]),
        ('DELETE, path: "/users/{id}"', 'DELETE, path: "/users/{key}"', [
            "line 20: collections.users.delete[0].path: unknown placeholder {key}: use a "
            "primary_key field (id)",
        ]),
        ('token: "{api_key}"', 'token: "{apikey}"', [
            "line 6: auth.token: unknown placeholder {apikey}: declare it under secrets (api_key)"
        ]),
        ("next_from: next}", "next_from: next, next_from_row: id}", [
            "line 16: collections.users.read[0].pagination: give exactly one of next_from "
            "and next_from_row",
        ]),
        ("kind: cursor, ", "kind: pages, ", ["line 16: collections.users.read[0].pagination: "]),
        ("check: {path: /ping}\n", "", [
            "line 1: check: required (a cheap request that touches no data) unless auth is OAuth2"
        ]),
        ("base_url: https://api.acme.test", "base_url: ftp://x", ["line 2: base_url: string "]),
        ("      - by: id\n", "      - by: []\n", ["line 17: collections.users.read[1].by: "]),
        ("    primary_key: [id]\n", "    primary_key: [id]\n    keys: 1\n", [
            "line 11: collections.users.keys: unknown key"
        ]),
    ],
)  # fmt: skip
def test_problems_name_the_path_and_the_line(old: str, new: str, expected: list[str]) -> None:
    assert old in GOOD
    found = problems(GOOD.replace(old, new, 1))
    assert len(found) == len(expected), found
    for message, start in zip(found, expected, strict=True):
        assert message.startswith(start), message


def test_yaml_errors_give_the_line_and_what_was_expected() -> None:
    # An unquoted {placeholder} inside a flow mapping is the usual mistake.
    text = GOOD.replace('{method: DELETE, path: "/users/{id}"}', "{method: DELETE, path: /u/{id}}")
    assert problems(text) == ["line 20: expected ',' or '}', but got '{'"]
    assert problems("- just\n- a list\n") == ["expected a mapping at the top"]


def test_values_from_the_file_are_not_echoed() -> None:
    text = GOOD.replace("name: acme", "name: 'Secret Value 123'")
    (message,) = problems(text)
    assert message.startswith("line 1: name: string should match pattern")
    assert "Secret Value 123" not in message


def test_the_config_is_checked_against_the_vendor_file(tmp_path: Path) -> None:
    registry = ConnectorRegistry([SAAS_CONNECTOR])
    vendor = tmp_path / "acme.yml"
    vendor.write_text(GOOD)
    assert (
        registry.validate_config("saas", {"vendor": str(vendor), "secrets": {"api_key": "k"}}) == []
    )
    cases = {
        "missing": {"vendor": str(vendor)},
        "unknown": {"vendor": str(vendor), "secrets": {"api_key": "k", "other": "hunter2"}},
        "no file": {"vendor": str(tmp_path / "nope.yml")},
        "bad file": {"vendor": str(tmp_path / "bad.yml")},
        "extra key": {"vendor": "stripe", "secrets": {"api_key": "hunter2"}, "token": "hunter2"},
        "ref": {"vendor": "stripe", "secrets": {"api_key": {"env": "A", "file": "/x"}}},
    }  # fmt: skip
    (tmp_path / "bad.yml").write_text(GOOD.replace("  token:", "  tokn:"))
    messages = {name: registry.validate_config("saas", config) for name, config in cases.items()}
    assert messages["missing"] == ["(root): secrets: missing api_key (the vendor file needs them)"]
    assert messages["unknown"] == ["(root): secrets: other not declared by the vendor file"]
    assert messages["no file"] == [
        "(root): vendor: no vendor file nope.yml (a path, or a shipped name)"
    ]
    assert messages["bad file"][0].startswith("(root): vendor file bad.yml: line 4: auth.token:")
    assert messages["extra key"] == ["token: extra inputs are not permitted"]
    assert any("exactly one of env and file" in m for m in messages["ref"])
    assert "hunter2" not in repr(messages)


def test_a_vendor_without_a_base_url_needs_one_in_the_config() -> None:
    config = {"vendor": "okta", "secrets": {"client_id": "a", "client_secret": "b"}}
    problems = ConnectorRegistry([SAAS_CONNECTOR]).validate_config("saas", config)
    assert problems == ["(root): base_url: required (the vendor file has none)"]
    SaasConfig.model_validate({**config, "base_url": "https://acme.okta.com"})


def test_the_config_schema_is_served_without_secrets() -> None:
    schema = SaasConfig.model_json_schema()
    assert set(schema["properties"]) == {
        "vendor", "base_url", "secrets", "rate_limit", "retries", "timeout",
        "allow_private_network", "consent", "consent_purposes",
    }  # fmt: skip
    assert SAAS_CONNECTOR.capabilities == {"retrieve", "mask", "delete", "consent"}
