"""The test-session PostgreSQL helper really starts a server we can use and then remove."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.postgres import start_postgres


@pytest.mark.postgres
def test_throwaway_server_accepts_connections_and_cleans_up() -> None:
    server = start_postgres()
    try:
        assert server.url("rf_test") == f"postgresql://postgres@127.0.0.1:{server.port}/rf_test"
        server.create_database("rf_test")
        engine = sa.create_engine(
            server.url("rf_test").replace("postgresql://", "postgresql+psycopg://")
        )
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("select 1")).scalar_one() == 1
                assert conn.execute(sa.text("show fsync")).scalar_one() == "off"
                assert conn.execute(sa.text("select current_database()")).scalar_one() == "rf_test"
        finally:
            engine.dispose()
    finally:
        server.stop()
    assert not server.root.exists()
