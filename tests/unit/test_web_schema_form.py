"""Forms generated from connector config schemas (api/web/schema_form.py), on the real config
models of every registered connector kind: each renders with a label for every input, and a
filled-in form turns back into a config its model accepts; nested objects, arrays, enums and
secrets each get their own widget, and secrets never go back into a form or a systems.yml."""

from __future__ import annotations

import re
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field, SecretStr

from rightsflow.api.web import schema_form
from rightsflow.api.web.pages import environment
from rightsflow.api.web.schema_form import FormField, config_of, fields_of, walk, with_defaults
from rightsflow.connectors.registry import ConnectorRegistry, default_registry

# What a person would type into each kind's required fields (the rest keep their defaults).
SAMPLES: dict[str, dict[str, str]] = {
    "sql": {"cfg.url": "sqlite:///shop.db"},
    "parquet": {"cfg.root": "/srv/lake"},
    "redis": {
        "cfg.url": "redis://localhost:6379/0",
        "cfg.collections": '{"sessions": {"key": "session:{email}", "type": "hash"}}',
    },
    "saas": {"cfg.vendor": "stripe", "cfg.secrets": '{"api_key": {"env": "STRIPE_KEY"}}'},
    "iceberg": {
        "cfg.warehouse": "/srv/warehouse",
        "cfg.namespace": "shop",
        "cfg.catalog_uri_env": "ICEBERG_CATALOG",
    },
    "http_service": {
        "cfg.url": "https://orders.internal/privacy/v1",
        "cfg.secret": "a-shared-secret-of-32-characters",
    },
    "manual": {"cfg.owner": "dpo@example.com", "cfg.instructions": "Delete the paper files."},
}


@pytest.fixture(scope="module")
def registry() -> ConnectorRegistry:
    return default_registry()


def _fields(registry: ConnectorRegistry, kind: str) -> tuple[FormField, ...]:
    return fields_of(registry.get(kind).config_model.model_json_schema())


def _posted(fields: tuple[FormField, ...], typed: dict[str, str]) -> dict[str, str]:
    """What a browser posts for the form as shown, with `typed` entered (unchecked boxes and
    nothing else are left out, as browsers do)."""
    form = {}
    for item in walk(with_defaults(fields)):
        if item.widget == "checkbox":
            if item.checked:
                form[item.name] = "true"
        else:
            form[item.name] = item.value
    return form | typed


def _render(fields: tuple[FormField, ...]) -> str:
    template = environment().get_template("console/datamap_field.html")
    return "".join(template.render(item=item) for item in with_defaults(fields))


def test_every_builtin_kind_has_a_sample(registry: ConnectorRegistry) -> None:
    assert set(SAMPLES) <= set(registry.kinds())


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_renders_with_a_label_for_every_input(
    registry: ConnectorRegistry, kind: str
) -> None:
    html = _render(_fields(registry, kind))
    ids = re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', html)
    assert ids, kind
    for field_id in ids:
        assert f'<label for="{field_id}">' in html, field_id
    for described in re.findall(r'aria-describedby="([^"]+)"', html):
        for target in described.split():
            assert f'id="{target}"' in html, target


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_a_filled_in_form_is_a_valid_config(registry: ConnectorRegistry, kind: str) -> None:
    fields = _fields(registry, kind)
    config, unreadable = config_of(fields, _posted(fields, SAMPLES[kind]))
    assert unreadable == {}
    assert registry.validate_config(kind, config) == [], config


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_an_empty_form_names_each_required_field(registry: ConnectorRegistry, kind: str) -> None:
    fields = _fields(registry, kind)
    config, _ = config_of(fields, _posted(fields, {}))
    errors = schema_form.error_targets(fields, registry.validate_config(kind, config))
    required = {item.name for item in walk(fields) if item.required and not item.in_optional}
    assert required <= set(errors), errors
    assert all(text == "field required" for name, text in errors.items() if name in required)


class Inner(BaseModel):
    host: str
    port: int = 5432


class Example(BaseModel):
    name: str = Field(description="What to call it")
    mode: Literal["fast", "safe"] = "safe"
    tags: list[str] = []
    ratio: float | None = None
    enabled: bool = True
    token: SecretStr
    api_secret: str = ""
    inner: Inner
    extra: Inner | None = None
    labels: dict[str, str] = {}


EXAMPLE = fields_of(Example.model_json_schema())


def by_name(fields: tuple[FormField, ...]) -> dict[str, FormField]:
    return {item.name: item for item in walk(fields)}


def test_each_kind_of_value_has_its_widget() -> None:
    found = {name: (f.widget, f.required, f.secret) for name, f in by_name(EXAMPLE).items()}
    assert found == {
        "cfg.name": ("text", True, False),
        "cfg.mode": ("select", False, False),
        "cfg.tags": ("lines", False, False),
        "cfg.ratio": ("number", False, False),
        "cfg.enabled": ("checkbox", False, False),
        "cfg.token": ("password", True, True),  # SecretStr: writeOnly, format password
        "cfg.api_secret": ("password", False, True),  # by its name
        "cfg.inner.host": ("text", True, False),
        "cfg.inner.port": ("integer", False, False),
        "cfg.extra.host": ("text", True, False),
        "cfg.extra.port": ("integer", False, False),
        "cfg.labels": ("json", False, False),
    }
    assert by_name(EXAMPLE)["cfg.mode"].options == ("fast", "safe")
    assert by_name(EXAMPLE)["cfg.name"].hint == "What to call it"
    assert [f.in_optional for f in walk(EXAMPLE) if f.path[0] == "extra"] == [True, True]


def test_a_form_round_trips_nested_arrays_enums_and_untouched_optional_sections() -> None:
    posted = _posted(
        EXAMPLE,
        {
            "cfg.name": "billing",
            "cfg.mode": "fast",
            "cfg.tags": "a\n\n b \nc",
            "cfg.token": "s3cret",
            "cfg.inner.host": "db",
            "cfg.labels": '{"team": "pay"}',
        },
    )
    config, unreadable = config_of(EXAMPLE, posted)
    assert unreadable == {}
    assert config == {
        "name": "billing",
        "mode": "fast",
        "tags": ["a", "b", "c"],
        "enabled": True,
        "token": "s3cret",
        "inner": {"host": "db", "port": 5432},
        "labels": {"team": "pay"},
    }  # `extra` was left alone: absent, not {port: 5432} missing its host
    Example.model_validate(config)
    posted.pop("cfg.enabled")  # unchecked
    assert config_of(EXAMPLE, posted)[0]["enabled"] is False


def test_unreadable_values_are_named_and_left_out() -> None:
    posted = {"cfg.inner.port": "five", "cfg.ratio": "1,5", "cfg.labels": "{team"}
    config, unreadable = config_of(EXAMPLE, posted)
    assert unreadable == {
        "cfg.inner.port": "enter a whole number",
        "cfg.ratio": "enter a number",
        "cfg.labels": "enter valid JSON",
    }
    assert "ratio" not in config
    assert "labels" not in config


def test_validation_messages_land_on_their_fields() -> None:
    messages = ["inner.port: too big", "extra.host: field required", "(root): odd", "x.y: ?"]
    assert schema_form.error_targets(EXAMPLE, messages) == {
        "cfg.inner.port": "too big",
        "cfg.extra.host": "field required",
        "": "odd",
    }


def test_secrets_are_never_shown_back() -> None:
    posted = {
        "cfg.token": "s3cret",
        "cfg.name": "postgresql://u:pw-123@db/x",  # a URL with a password: a secret too
        "cfg.inner.host": "db",
    }
    errors = {"cfg.token": "too short"}
    shown = by_name(schema_form.refill(EXAMPLE, posted, errors))
    assert shown["cfg.token"].value == ""
    assert shown["cfg.token"].error == "too short"
    assert shown["cfg.name"].value == ""
    assert shown["cfg.inner.host"].value == "db"
    html = _render(tuple(schema_form.refill(EXAMPLE, posted, errors)))
    assert "s3cret" not in html
    assert "pw-123" not in html


def test_secrets_become_environment_references_in_the_entry() -> None:
    saas = fields_of(default_registry().get("saas").config_model.model_json_schema())
    config: dict[str, Any] = {
        "vendor": "stripe",
        "base_url": "https://user:pw@api.example",
        "secrets": {"api_key": "sk_live_1", "webhook": {"env": "HOOK"}},
    }
    out = schema_form.redact(saas, config, "pay-ments")
    assert out.config == {
        "vendor": "stripe",
        "base_url": "${RIGHTSFLOW_PAY_MENTS_BASE_URL}",
        "secrets": {
            "api_key": "${RIGHTSFLOW_PAY_MENTS_SECRETS_API_KEY}",
            "webhook": {"env": "HOOK"},
        },
    }
    assert [ref.field for ref in out.env] == ["base_url", "secrets.api_key"]
    assert config["secrets"]["api_key"] == "sk_live_1"  # the input is not changed
