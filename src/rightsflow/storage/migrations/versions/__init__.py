"""Migration revisions (alembic loads these files itself; this file only makes a package)."""
