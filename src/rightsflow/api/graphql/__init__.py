"""The GraphQL API at /graphql (placeholder: filled in by its owner)."""

from __future__ import annotations

from fastapi import FastAPI

from rightsflow.api.deps import ApiDeps
from rightsflow.config import Settings


def install(app: FastAPI, settings: Settings, deps: ApiDeps) -> None:
    """Mount /graphql on `app`."""
