"""The test-session MariaDB helper really starts a server we can use and then remove."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.mariadb import start_mariadb


@pytest.mark.mariadb
def test_throwaway_server_accepts_connections_and_cleans_up() -> None:
    server = start_mariadb()
    try:
        assert server.url() == f"mysql+pymysql://root@127.0.0.1:{server.port}/rightsflow"
        server.create_database("rf_test")
        with pytest.raises(ValueError, match="plain database name"):
            server.create_database("x`; DROP DATABASE rf_test")
        for name in ("rightsflow", "rf_test"):
            engine = sa.create_engine(server.url(name))
            try:
                with engine.connect() as conn:
                    assert conn.execute(sa.text("select database()")).scalar_one() == name
                    tables = conn.execute(sa.text("show tables")).all()
                    assert tables == []
                    assert "MariaDB" in conn.execute(sa.text("select version()")).scalar_one()
            finally:
                engine.dispose()
        process = server.process
    finally:
        server.stop()
    assert process is not None
    assert process.poll() is not None
    assert not server.root.exists()
