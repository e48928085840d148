"""Alembic environment for the app database, driven from code (no alembic.ini at runtime).

Apply with `rightsflow.storage.migrate.upgrade_database(url)`. A new revision is hand-written in
`versions/` (file `rNNNN_<slug>.py`, revision id "NNNN"); start one with
`alembic.command.revision(alembic_config(), "<message>", rev_id="NNNN")` and then check it with
`compare_metadata` (the storage tests do, so tables.py and the migrations cannot drift).
"""
