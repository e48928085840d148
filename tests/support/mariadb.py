"""A throwaway MariaDB server for a test session.

`start_mariadb()` runs `mariadb-install-db` and `mariadbd` (as the `mysql` OS user when we are
root and it exists, else `--user=root`) on a fresh temporary directory, listening only on
127.0.0.1 on a free port, with durability traded for speed (no binlog, no doublewrite, no
flush per commit). The grant tables give `root@127.0.0.1` an empty password, so tests connect
over TCP as root without any setup. `url()` names a fresh, empty database created at start;
`create_database(name)` makes more. It raises RuntimeError when MariaDB is not installed:
tests that need it must fail loudly, never skip.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

SUPERUSER = "root"
DEFAULT_DATABASE = "rightsflow"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SETTINGS = (
    "--bind-address=127.0.0.1",
    "--skip-name-resolve",
    "--skip-log-bin",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=32M",
    "--sync-binlog=0",
    "--max-connections=200",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--performance-schema=OFF",
)


@dataclass
class MariaDbServer:
    """A running server; `stop()` shuts it down and removes its files (also done at exit)."""

    port: int
    root: Path
    run_as: list[str] = field(repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    stopped: bool = False

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "mariadb.log"

    def url(self, dbname: str = DEFAULT_DATABASE) -> str:
        """A SQLAlchemy URL (driver pymysql) for `dbname`; the default one exists and is empty."""
        return f"mysql+pymysql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def connect(self) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
        """A raw pymysql connection as the superuser, autocommit on, no database selected."""
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, password="", autocommit=True
        )

    def create_database(self, name: str) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a plain database name: {name!r}")
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: a clean (and with these settings quick) shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> MariaDbServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def find_binaries() -> tuple[str, str]:
    """`mariadb-install-db` and `mariadbd` (or their older mysql_* names) on PATH or in sbin."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    install = shutil.which("mariadb-install-db", path=path) or shutil.which(
        "mysql_install_db", path=path
    )
    server = shutil.which("mariadbd", path=path) or shutil.which("mysqld", path=path)
    if install is None or server is None:
        raise RuntimeError(
            "MariaDB server binaries (mariadb-install-db, mariadbd) not found; install them "
            "(apt-get install mariadb-server) — the integration tests need a real MariaDB server"
        )
    return install, server


def start_mariadb(attempts: int = 3) -> MariaDbServer:
    """Init and start a fresh server with an empty `rightsflow` database; retry on another
    port if the chosen one was taken."""
    install, binary = find_binaries()
    root = Path(tempfile.mkdtemp(prefix="rightsflow-mariadb-"))
    server = MariaDbServer(port=0, root=root, run_as=_run_as())
    atexit.register(server.stop)
    try:
        _install(server, install)
        for attempt in range(1, attempts + 1):
            server.port = _free_port()
            if _start(server, binary, last_try=attempt == attempts):
                server.create_database(DEFAULT_DATABASE)
                return server
    except BaseException:
        server.stop()
        raise
    raise AssertionError("unreachable")  # pragma: no cover


def _install(server: MariaDbServer, install: str) -> None:
    if server.run_as and server.run_as[0] != "--user=root":
        user = pwd.getpwnam(server.run_as[0].removeprefix("--user="))
        os.chown(server.root, user.pw_uid, user.pw_gid)
    _run([install, "--no-defaults", f"--datadir={server.datadir}", *server.run_as,
          "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"],
         cwd=server.root)  # fmt: skip


def _start(server: MariaDbServer, binary: str, *, last_try: bool) -> bool:
    """Start mariadbd in the background and wait until it accepts a TCP connection."""
    with server.log.open("ab") as log:
        server.process = subprocess.Popen(
            [binary, "--no-defaults", f"--datadir={server.datadir}", *server.run_as,
             f"--port={server.port}", f"--socket={server.root / 'mariadb.sock'}",
             f"--pid-file={server.root / 'mariadb.pid'}", f"--log-error={server.log}",
             *_SETTINGS],
            cwd=server.root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            server.connect().close()
        except pymysql.err.OperationalError:
            time.sleep(0.1)
        else:
            return True
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=10)
    if last_try:
        tail = server.log.read_text(errors="replace")[-2000:] if server.log.exists() else ""
        raise RuntimeError(f"mariadbd did not start on port {server.port}\n--- log ---\n{tail}")
    return False


def _run_as() -> list[str]:
    """mariadbd refuses to run as root unless told: prefer the `mysql` user when there is one."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("mysql")
    except KeyError:
        return ["--user=root"]
    return ["--user=mysql"]


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
