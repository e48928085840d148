"""The Data Rights Protocol 1.0 endpoints (`/v1/...`), for authorized agents."""

from rightsflow.api.drp.routes import agents_source, build_drp, install, router

__all__ = ["agents_source", "build_drp", "install", "router"]
