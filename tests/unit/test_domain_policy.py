"""Policies files: the defaults, custom policies, and problems with locations."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from rightsflow.domain.errors import DataMapInvalid, InvalidInput
from rightsflow.domain.policy import DEFAULT_POLICIES, MaskStrategy, parse_policies, policy_for
from rightsflow.domain.requests import RequestType


def test_policy_defaults_are_present() -> None:
    for doc in (None, {"policies": []}):
        policies = parse_policies(doc)
        assert set(policies) == {"default_access", "default_erasure"}
        assert policies["default_erasure"] == DEFAULT_POLICIES["default_erasure"]


def test_custom_policy_loads() -> None:
    doc = yaml.safe_load("""\
policies:
  - key: hash_contact
    type: erasure
    targets: [user.contact]
    masking:
      - {category: user.contact.email, strategy: hash}
      - {category: user.contact, strategy: fixed, value: REDACTED}
""")
    policy = parse_policies(doc)["hash_contact"]
    assert policy.rule_for(["user.contact.email"]).strategy is MaskStrategy.HASH
    assert policy.rule_for(["user.contact.phone_number"]).value == "REDACTED"
    assert policy.targeted(["user.contact.address.city"])
    assert not policy.targeted(["user.name"])


@pytest.mark.parametrize(
    ("policy", "location", "words"),
    [
        (
            {"masking": [{"category": "user.contact", "strategy": "scramble"}]},
            "policies[0].masking.0.strategy",
            "'hash'",
        ),
        (
            {"masking": [{"category": "user.contact", "strategy": "fixed"}]},
            "policies[0].masking.0",
            "needs a 'value'",
        ),
        ({"masking": [{"category": "user.name"}]}, "policies[0]", "outside the targets"),
        ({"targets": ["user.contact", "user.nope"]}, "policies[0].targets", "user.nope"),
    ],
)
def test_bad_policies_have_locations(policy: dict[str, Any], location: str, words: str) -> None:
    raw = {"key": "p", "type": "erasure", "targets": ["user.contact"], **policy}
    with pytest.raises(DataMapInvalid) as exc:
        parse_policies({"policies": [raw]})
    (problem,) = exc.value.problems
    assert (problem.file, problem.location) == ("policies.yml", location)
    assert words in problem.message


def test_policies_file_needs_a_list() -> None:
    with pytest.raises(DataMapInvalid) as exc:
        parse_policies({"policy": []}, file="custom.yml")
    assert exc.value.problems[0].file == "custom.yml"


def test_an_access_policy_takes_no_masking_rules() -> None:
    raw = {"key": "a", "type": "access", "targets": ["user"], "masking": [{"category": "user"}]}
    with pytest.raises(DataMapInvalid) as exc:
        parse_policies({"policies": [raw]})
    assert "no masking rules" in exc.value.problems[0].message


def test_a_rule_less_target_is_nulled() -> None:
    policy = parse_policies(
        {"policies": [{"key": "p", "type": "erasure", "targets": ["user.contact", "user.name"]}]}
    )["p"]
    rule = policy.rule_for(["user.name"])
    assert (rule.strategy, rule.value) == (MaskStrategy.NULL, None)


def test_policy_for_checks_key_and_type() -> None:
    assert policy_for(DEFAULT_POLICIES, RequestType.ACCESS, None).key == "default_access"
    assert policy_for(DEFAULT_POLICIES, RequestType.ERASURE, None).key == "default_erasure"
    with pytest.raises(InvalidInput) as exc:
        policy_for(DEFAULT_POLICIES, RequestType.ERASURE, "nope")
    assert exc.value.field == "policy"
    with pytest.raises(InvalidInput) as exc:
        policy_for(DEFAULT_POLICIES, RequestType.ERASURE, "default_access")
    assert exc.value.field == "policy"
    assert "access" in str(exc.value)
