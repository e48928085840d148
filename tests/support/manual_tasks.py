"""A system only a person can handle: a "crm" dataset bound to the `manual` connector."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

OWNER = "grace@crm.example"
INSTRUCTIONS = "Search the CRM's contacts by email; export or delete what you find."

CRM_YML = """\
dataset:
  - fides_key: crm
    collections:
      - name: contacts
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: name
            data_categories: [user.name]
          - name: notes
            data_categories: [user.content]
"""


def manual_system(**config: Any) -> dict[str, Any]:
    """The crm system entry for systems.yml; `config` overrides the manual config."""
    return {
        "key": "crm",
        "connector": "manual",
        "datasets": ["crm"],
        "config": {"owner": OWNER, "instructions": INSTRUCTIONS, **config},
    }


def add_manual_system(mapdir: Path, **config: Any) -> None:
    """Add the crm dataset and its manual system to a data map directory."""
    (mapdir / "crm.yml").write_text(CRM_YML, encoding="utf-8")
    systems_file = mapdir / "systems.yml"
    systems = yaml.safe_load(systems_file.read_text(encoding="utf-8"))
    systems["systems"].append(manual_system(**config))
    systems_file.write_text(yaml.safe_dump(systems, sort_keys=False), encoding="utf-8")


_TASK = re.compile(r"GET \S+/api/v1/tasks/(?P<id>[0-9a-f-]{36})\n.*?Bearer (?P<token>\S+)", re.S)


def task_link(body: str) -> tuple[str, str]:
    """(task id, token) from a task notification's body."""
    found = _TASK.search(body)
    assert found is not None, "no task link in the notification"
    return found["id"], found["token"]
