"""A throwaway PostgreSQL server for a test session.

`start_postgres()` runs `initdb` and `pg_ctl` (as the `postgres` OS user when we are root) on a
fresh temporary directory, listening only on 127.0.0.1 on a free port, with trust auth and
fsync off. It raises RuntimeError when PostgreSQL is not installed: tests that need it must
fail loudly, never skip.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "postgres"
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


@dataclass
class PostgresServer:
    """A running server; `stop()` kills it and removes its files (also done at exit)."""

    port: int
    root: Path
    bindir: Path
    run_as: list[str] = field(repr=False)
    stopped: bool = False

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        with contextlib.suppress(RuntimeError):  # already dead: still remove the files
            _run([*self.run_as, str(self.bindir / "pg_ctl"), "stop", "-D", str(self.datadir),
                  "-m", "immediate", "-w"], cwd=self.root)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def find_bindir() -> Path:
    """The directory holding `initdb` and `pg_ctl`: PATH first, then the newest Debian install."""
    initdb = shutil.which("initdb")
    if initdb and (Path(initdb).resolve().parent / "pg_ctl").exists():
        return Path(initdb).resolve().parent
    candidates = sorted(
        (p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")),
        key=lambda d: _version_key(d.parent.name),
    )
    for bindir in reversed(candidates):
        if (bindir / "pg_ctl").exists():
            return bindir
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
        "/usr/lib/postgresql/*/bin; install them (apt-get install postgresql) — "
        "the integration tests need a real PostgreSQL server"
    )


def start_postgres(attempts: int = 3) -> PostgresServer:
    """Init and start a fresh server; retry on another port if the chosen one was taken."""
    bindir, run_as = find_bindir(), _run_as()
    root = Path(tempfile.mkdtemp(prefix="rightsflow-pg-"))
    server = PostgresServer(port=0, root=root, bindir=bindir, run_as=run_as)
    atexit.register(server.stop)
    try:
        _initdb(server)
        for attempt in range(1, attempts + 1):
            server.port = _free_port()
            if _start(server, last_try=attempt == attempts):
                return server
    except BaseException:
        server.stop()
        raise
    raise AssertionError("unreachable")  # pragma: no cover


def _initdb(server: PostgresServer) -> None:
    (server.root / "sock").mkdir()
    if server.run_as:
        user = pwd.getpwnam(SUPERUSER)
        for path in (server.root, server.root / "sock"):
            os.chown(path, user.pw_uid, user.pw_gid)
    _run([*server.run_as, str(server.bindir / "initdb"), "-D", str(server.datadir),
          "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"],
         cwd=server.root)  # fmt: skip


def _start(server: PostgresServer, *, last_try: bool) -> bool:
    settings = {**_SETTINGS, "port": str(server.port),
                "unix_socket_directories": f"'{server.root / 'sock'}'"}  # fmt: skip
    with (server.datadir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# rightsflow test server\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    log = server.root / "postgres.log"
    try:
        _run([*server.run_as, str(server.bindir / "pg_ctl"), "start", "-w", "-t", "60",
              "-D", str(server.datadir), "-l", str(log)], cwd=server.root)  # fmt: skip
    except RuntimeError as exc:
        if last_try:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{exc}\n--- postgres.log ---\n{tail}") from exc
        return False
    return True


def _run_as() -> list[str]:
    """Prefix that runs a command as the postgres user (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise RuntimeError("running as root but there is no 'postgres' OS user") from None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SUPERUSER, "--"]
    raise RuntimeError("running as root but `runuser` is missing (util-linux)")


def _run(cmd: list[str], *, cwd: Path) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())
