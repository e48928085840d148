"""Rightsflow: privacy requests as durable, verified workflows."""
