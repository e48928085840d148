"""The privacy center (`/privacy`): the public's pages, in English and Spanish, working without
JavaScript. Start a request (center_requests), follow it (center_status), choose what may be
done with your data (center_preferences); shared helpers in center_pages, texts in center_text."""

from __future__ import annotations

from fastapi import APIRouter

from rightsflow.api.web import center_preferences, center_requests, center_status

router = APIRouter()
router.include_router(center_requests.router)
router.include_router(center_status.router)
router.include_router(center_preferences.router)
