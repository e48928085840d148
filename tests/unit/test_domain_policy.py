"""Policies files: the defaults, custom policies, and problems with their file and line."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from rightsflow.domain.errors import DataMapInvalid, InvalidInput, Problem
from rightsflow.domain.policy import (
    DEFAULT_ERASURE,
    DEFAULT_POLICIES,
    MaskRule,
    MaskStrategy,
    Policy,
    field_override_problems,
    parse_policies,
    policy_for,
)
from rightsflow.domain.requests import RequestType

CUSTOM = """\
policies:
  - key: hash_contact
    type: erasure
    erasure_mode: delete
    targets: [user.contact, user.name]
    masking:
      - {category: user.contact.email, strategy: hash}
      - {category: user.contact, strategy: fixed, value: REDACTED}
      - {field: "shop:customers.nickname", strategy: random}
      - {field: "shop:customers.birthday", strategy: generalize, granularity: year}
"""


def problems_of(text: str, file: str = "policies.yml") -> list[Problem]:
    with pytest.raises(DataMapInvalid) as exc:
        parse_policies(text, file)
    return exc.value.problems


def one_policy(body: str) -> str:
    """A policies file with one policy, `body` indented under its list item."""
    head = "policies:\n  - key: p\n    type: erasure\n"
    return head + textwrap.indent(textwrap.dedent(body), "    ")


def test_defaults_cover_every_request_type() -> None:
    for text in (None, "", "policies: []\n"):
        policies = parse_policies(text)
        assert set(policies) == {f"default_{t.value}" for t in RequestType if t.touches_data}
        assert policies["default_erasure"] == DEFAULT_ERASURE
    for request_type in (t for t in RequestType if t.touches_data):
        policy = policy_for(DEFAULT_POLICIES, request_type, None)
        assert policy.type is request_type
    for key in ("default_portability", "default_rectification", "default_restriction"):
        assert DEFAULT_POLICIES[key].targets == ("user",)
        assert DEFAULT_POLICIES[key].masking == ()
    assert DEFAULT_ERASURE.erasure_mode == "mask"


def test_custom_policy_loads() -> None:
    policy = parse_policies(CUSTOM)["hash_contact"]
    assert policy.erasure_mode == "delete"
    assert policy.rule_for(["user.contact.email"]).strategy is MaskStrategy.HASH
    assert policy.rule_for(["user.contact.phone_number"]).value == "REDACTED"
    assert policy.targeted(["user.contact.address.city"])
    assert not policy.targeted(["system.operations"])


def test_a_field_override_wins_over_categories() -> None:
    policy = parse_policies(CUSTOM)["hash_contact"]
    nick = "shop:customers.nickname"
    assert policy.rule_for(["user.contact.email"], nick).strategy is MaskStrategy.RANDOM
    assert policy.rule_for(["user.contact.email"], "shop:orders.email").strategy == "hash"
    birthday = policy.rule_for([], "shop:customers.birthday")
    assert (birthday.strategy, birthday.granularity) == (MaskStrategy.GENERALIZE, "year")
    # A rule naming a field reaches it even when no target covers its categories.
    assert policy.targeted(["system.operations"], "shop:customers.birthday")
    assert not policy.targeted(["system.operations"], "shop:customers.other")


def test_a_rule_less_target_is_nulled() -> None:
    text = one_policy("targets: [user.contact, user.name]\n")
    rule = parse_policies(text)["p"].rule_for(["user.name"])
    assert (rule.strategy, rule.value, rule.category) == (MaskStrategy.NULL, None, "user.name")


@pytest.mark.parametrize(
    ("body", "location", "words"),
    [
        (
            """\
            targets: [user.contact]
            masking:
              - {category: user.contact, strategy: scramble}
            """,
            "line 6: policies[0].masking[0].strategy",
            "'null', 'fixed', 'random', 'hash', 'encrypt', 'generalize' or 'delete'",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - category: user.contact
                strategy: fixed
            """,
            "line 6: policies[0].masking[0]",
            "strategy 'fixed' needs a 'value'",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - category: user.contact
                strategy: hash
                value: X
            """,
            "line 8: policies[0].masking[0].value",
            "only strategy 'fixed' takes a 'value'",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - category: user.contact
                strategy: null
                granularity: month
            """,
            "line 8: policies[0].masking[0].granularity",
            "only strategy 'generalize' takes a 'granularity'",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - {category: user.contact, strategy: generalize, granularity: week}
            """,
            "line 6: policies[0].masking[0].granularity",
            "'year', 'month' or 'day' for dates, or a positive number",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - {category: user.contact, strategy: generalize, granularity: -5}
            """,
            "line 6: policies[0].masking[0].granularity",
            "positive number",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - {category: user.contact, strategy: generalize}
            """,
            "line 6: policies[0].masking[0]",
            "needs a 'granularity'",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - {category: user.contact, field: "d:c.f"}
            """,
            "line 6: policies[0].masking[0]",
            "exactly one of 'category' or 'field'",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - {strategy: hash}
            """,
            "line 6: policies[0].masking[0]",
            "exactly one of 'category' or 'field'",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - {field: "no address", strategy: hash}
            """,
            "line 6: policies[0].masking[0].field",
            "dataset:collection.path",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - {category: user.contact, strategy: hash, colour: red}
            """,
            "line 6: policies[0].masking[0].colour",
            "Extra inputs are not permitted",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - {category: user.name}
            """,
            "line 2: policies[0]",
            "outside the targets",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - {category: user.contact}
              - {category: user.contact, strategy: hash}
            """,
            "line 2: policies[0]",
            "more than one masking rule for 'user.contact'",
        ),
        (
            """\
            targets:
              - user.contact
              - user.nope
            """,
            "line 6: policies[0].targets[1]",
            "unknown data category 'user.nope'",
        ),
        (
            """\
            targets: [user.contact]
            masking:
              - {category: user.contactt, strategy: hash}
            """,
            "line 6: policies[0].masking[0].category",
            "unknown data category 'user.contactt'",
        ),
    ],
)
def test_bad_policies_have_file_and_line(body: str, location: str, words: str) -> None:
    (problem,) = problems_of(one_policy(body))
    assert (problem.file, problem.location) == ("policies.yml", location)
    assert words in problem.message
    assert not problem.message.startswith("Value error")


def test_every_problem_is_collected() -> None:
    text = """\
policies:
  - key: a
    type: erasure
    targets: [user.nope]
  - key: b
    type: access
    targets: [user]
    masking: [{category: user}]
  - key: c
    type: erasure
    targets: [user]
    masking:
      - {category: user, strategy: scramble}
      - {category: user.name, strategy: fixed}
  - {key: Bad Key, type: deletion, targets: []}
"""
    found = {(p.location, p.message.split(" (")[0]) for p in problems_of(text, "custom.yml")}
    assert {loc for loc, _ in found} == {
        "line 4: policies[0].targets[0]",
        "line 5: policies[1]",
        "line 13: policies[2].masking[0].strategy",
        "line 14: policies[2].masking[1]",
        "line 15: policies[3].key",
        "line 15: policies[3].type",
        "line 15: policies[3].targets",
    }
    assert ("line 5: policies[1]", "an access policy has no masking rules") in found


@pytest.mark.parametrize("request_type", ["access", "portability", "rectification", "restriction"])
def test_only_an_erasure_policy_masks(request_type: str) -> None:
    text = f"policies:\n  - {{key: p, type: {request_type}, targets: [user]}}\n"
    assert parse_policies(text)["p"].type == request_type
    for extra in ("masking: [{category: user}]", "erasure_mode: delete"):
        bad = f"policies:\n  - key: p\n    type: {request_type}\n    targets: [user]\n    {extra}\n"
        (problem,) = problems_of(bad)
        assert problem.location == "line 2: policies[0]"
        assert "erasure" in problem.message


def test_a_bad_erasure_mode() -> None:
    (problem,) = problems_of(one_policy("targets: [user]\nerasure_mode: shred\n"))
    assert problem.location == "line 5: policies[0].erasure_mode"
    assert "'mask' or 'delete'" in problem.message


def test_a_policy_key_defined_twice() -> None:
    text = "policies:\n  - {key: p, type: access, targets: [user]}\n" * 1 + (
        "  - {key: p, type: erasure, targets: [user]}\n"
    )
    (problem,) = problems_of(text)
    assert problem.location == "line 3: policies[1].key"
    assert "line 2" in problem.message


def test_a_file_may_override_a_default() -> None:
    text = "policies:\n  - {key: default_erasure, type: erasure, targets: [user.contact]}\n"
    assert parse_policies(text)["default_erasure"].targets == ("user.contact",)


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ("policy: []\n", "line 1"),
        ("- key: p\n", "line 1"),
        ("\n\npolicies: {key: p}\n", "line 3"),
    ],
)
def test_policies_file_needs_a_list(text: str, location: str) -> None:
    (problem,) = problems_of(text, "custom.yml")
    assert (problem.file, problem.location) == ("custom.yml", location)
    assert "top-level `policies:` list" in problem.message


def test_yaml_syntax_errors_have_a_line() -> None:
    (problem,) = problems_of("policies:\n  - key: [p\n")
    assert problem.location.startswith("line 3")
    assert "not valid YAML" in problem.message


def test_field_overrides_must_name_known_fields() -> None:
    known = {"shop:customers.nickname", "shop:customers.email"}
    (problem,) = field_override_problems(known, CUSTOM, "policies.yml")
    assert problem.location == "line 10: policies[0].masking[3].field"
    assert "shop:customers.birthday" in problem.message
    known.add("shop:customers.birthday")
    assert field_override_problems(known, CUSTOM) == []
    for text in (None, "", "policies: [", "policies: 3", "policies: [3, {masking: 4}]"):
        assert field_override_problems(set(), text) == []


def test_unknown_fields_are_found_in_invalid_policies_too() -> None:
    """So one run of `datamap validate` shows them next to the policy's other problems."""
    text = one_policy("""\
        targets: [user.nope]
        masking:
          - {field: "shop:customers.ghost", strategy: scramble}
          - {field: "not an address", strategy: hash}
        """)
    (problem,) = field_override_problems(set(), text)
    assert problem.location == "line 6: policies[0].masking[0].field"
    assert len(problems_of(text)) == 3  # category, strategy, malformed address


def test_yaml_null_is_the_null_strategy_and_granularity_may_be_text() -> None:
    text = one_policy("""\
        targets: [user]
        masking:
          - {category: user.contact, strategy: null}
          - {category: user.financial, strategy: generalize, granularity: "10"}
        """)
    policy = parse_policies(text)["p"]
    assert policy.rule_for(["user.contact.email"]).strategy is MaskStrategy.NULL
    assert policy.rule_for(["user.financial"]).granularity == 10
    # A plan carries the granularity as text; the rule rebuilt from it is the same.
    again = MaskRule(category="user", strategy=MaskStrategy.GENERALIZE, granularity="2.5")
    assert again.granularity == 2.5


def test_mask_rules_in_code_are_checked_too() -> None:
    with pytest.raises(ValueError, match="only strategy 'generalize'"):
        MaskRule(category="user", strategy=MaskStrategy.HASH, granularity="year")
    with pytest.raises(ValueError, match="granularity"):
        MaskRule(category="user", strategy=MaskStrategy.GENERALIZE, granularity=True)
    with pytest.raises(ValueError, match="unknown data category"):
        Policy(key="p", type=RequestType.ACCESS, targets=("user.nope",))


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


_CATEGORIES = ["user", "user.contact", "user.contact.email", "user.name", "user.financial"]


@given(
    st.lists(st.sampled_from(_CATEGORIES), min_size=1, max_size=5, unique=True),
    st.integers(min_value=0, max_value=5),
    st.booleans(),
)
def test_a_bad_rule_is_located_wherever_it_sits(
    targets: list[str], position: int, flow: bool
) -> None:
    """However the file is laid out, the problem's line is the line of the bad category."""
    rules: list[dict[str, str]] = [{"category": c, "strategy": "hash"} for c in targets]
    position = min(position, len(rules))
    rules.insert(position, {"category": "user.contact.emial", "strategy": "null"})
    doc = {"policies": [{"key": "p", "type": "erasure", "targets": targets, "masking": rules}]}
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=flow, width=40)
    (problem,) = problems_of(text)
    line, _, path = problem.location.partition(": ")
    assert path == f"policies[0].masking[{position}].category"
    assert "user.contact.emial" in text.splitlines()[int(line.removeprefix("line ")) - 1]
