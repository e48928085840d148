"""A data map with login events (old and young) on SQLite or PostgreSQL, a retention rule on
it, and the runtime wired for sweeps; for the retention sweep tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.config import Settings
from rightsflow.connectors.registry import default_registry
from rightsflow.connectors.testing import in_memory_spec
from rightsflow.services.sweeps import Sweeps
from rightsflow.storage.sweep_repository import SweepTransaction

NOW = datetime.now(UTC)
DATASET = """\
dataset:
  - fides_key: logs
    collections:
      - name: login_events
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: customer_email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: ip
            data_categories: [user.device.ip_address]
            fides_meta: {data_type: string}
          - name: ts
            data_categories: [system.operations]
  - fides_key: crm
    collections:
      - name: devices
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true}
          - name: ip
            data_categories: [user.device.ip_address]
          - name: ts
            data_categories: [system.operations]
"""
SYSTEMS = """\
systems:
  - key: logs_db
    connector: sql
    datasets: [logs]
    config: {{url: "{url}"}}
  - key: crm
    connector: memory
    datasets: [crm]
"""


def rules(action: str = "delete", target: str = "logs.login_events") -> str:
    return (
        "retention:\n"
        f"  - {{key: old_logins, target: {target}, age_field: ts, max_age: 90 days,"
        f" action: {action}}}\n"
    )


def create_logins(url: str, old: int, young: int) -> sa.Table:
    """`old` rows 100..(100+old) days old and `young` rows under 90 days old; ids interleave
    so that chunks in key order mix both."""
    engine = sa.create_engine(url)
    pg = engine.dialect.name == "postgresql"
    table = sa.Table(
        "login_events",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_email", sa.Text),
        sa.Column("ip", sa.Text),
        sa.Column("ts", sa.DateTime(timezone=True) if pg else sa.Text, nullable=False),
    )
    rows = []
    for i in range(old + young):
        is_old = (i % 2 == 0 and i // 2 < old) or i >= 2 * young
        age = timedelta(days=100 + i) if is_old else timedelta(days=i % 80)
        ts = NOW - age
        rows.append(
            {
                "id": i + 1,
                "customer_email": f"person{i}@example.com",
                "ip": f"10.0.{i // 250}.{i % 250}",
                "ts": ts if pg else ts.isoformat(),
            }
        )
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        conn.execute(table.insert(), rows)
    engine.dispose()
    return table


def old_ids(url: str) -> set[int]:
    engine = sa.create_engine(url)
    cutoff = NOW - timedelta(days=90)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, ts FROM login_events")).all()
    engine.dispose()
    return {i for i, ts in rows if _aware(ts) < cutoff}


def read_logins(url: str) -> dict[int, tuple[str | None, str | None]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, customer_email, ip FROM login_events")).all()
    engine.dispose()
    return {i: (email, ip) for i, email, ip in rows}


def _aware(ts: object) -> datetime:
    value = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class SweepStack:
    runtime: Runtime
    sweeps: Sweeps
    url: str

    def close(self) -> None:
        self.runtime.close()


def sweep_stack(
    root: Path, url: str, retention: str, chunk_size: int = 7, **extra: object
) -> SweepStack:
    mapdir = root / "datamap"
    mapdir.mkdir(parents=True, exist_ok=True)
    (mapdir / "datasets.yml").write_text(DATASET, encoding="utf-8")
    (mapdir / "systems.yml").write_text(SYSTEMS.format(url=url), encoding="utf-8")
    (mapdir / "retention.yml").write_text(retention, encoding="utf-8")
    settings = Settings(data_dir=root / "data", datamap_dir=mapdir, **extra)  # type: ignore[arg-type]
    registry = default_registry()
    registry.register(in_memory_spec())
    runtime = build_runtime(settings, registry)
    engine = runtime.engine
    sweeps = Sweeps(runtime.platform, lambda: SweepTransaction(engine), chunk_size=chunk_size)
    return SweepStack(runtime, sweeps, url)
