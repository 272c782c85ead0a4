"""A throwaway, real PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temp dir.

Why not a container or a mock: the store's PostgreSQL path (advisory locks, ON CONFLICT,
timestamptz) must be exercised by the real server, and CI machines have the binaries but
no Docker. PostgreSQL refuses to run as root, so when we are root every server command
runs as the ``postgres`` user (``runuser``/``su``) and the data dir is handed to it.

Usage::

    with PostgresServer.start() as pg:
        url = pg.create_database("mytest")   # postgresql+psycopg://postgres@127.0.0.1:PORT/mytest
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The binaries or the ``postgres`` user are missing: callers turn this into a skip."""


def _find_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    # Debian/Ubuntu keep the server binaries off PATH.
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    if candidates:
        return str(candidates[0])
    raise PostgresUnavailable(
        f"{name} not found on PATH or under /usr/lib/postgresql/*/bin; "
        "install the PostgreSQL server package to run the PostgreSQL store tests"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; ``stop()`` (or leaving the ``with`` block) kills it, deletes its files."""

    root: Path
    port: int
    run_as: str | None  # None: run the binaries as the current (non-root) user
    pg_ctl: str
    _stopped: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, *, timeout_s: float = 60.0) -> PostgresServer:
        initdb = _find_binary("initdb")
        pg_ctl = _find_binary("pg_ctl")
        run_as: str | None = None
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root and there is no {SERVER_USER!r} user to run the server as"
                ) from None
            run_as = SERVER_USER
        # Short path: the Unix socket path must stay under ~100 bytes.
        root = Path(tempfile.mkdtemp(prefix="la-pg-", dir="/tmp"))
        if run_as is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
        os.chmod(root, 0o700)
        server = cls(root=root, port=_free_port(), run_as=run_as, pg_ctl=pg_ctl)
        try:
            server._run(["mkdir", "-p", str(server.socket_dir)])
            server._run(
                [
                    initdb,
                    "-D",
                    str(server.data_dir),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
                timeout_s=timeout_s,
            )
            for attempt in range(3):  # another process may grab the free port first
                try:
                    server._pg_ctl_start(timeout_s)
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
                    server.port = _free_port()
        except BaseException:
            server.stop()
            raise
        return server

    def _pg_ctl_start(self, timeout_s: float) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100"
        )
        self._run(
            [
                self.pg_ctl,
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout_s)),
                "start",
            ],
            timeout_s=timeout_s + 5,
        )

    def _run(self, argv: Sequence[str], *, timeout_s: float = 60.0) -> str:
        command = list(argv)
        if self.run_as is not None:
            if shutil.which("runuser"):
                command = ["runuser", "-u", self.run_as, "--", *command]
            else:
                command = ["su", "-s", "/bin/sh", self.run_as, "-c", shlex.join(command)]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=self.root,
            check=False,
        )
        if done.returncode != 0:
            log = ""
            if self.log_file.exists():
                log = self.log_file.read_text(errors="replace")[-2000:]
            output = f"{done.stdout}\n{done.stderr}\n{log}"
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{output}")
        return done.stdout

    def execute(self, database: str, sql: str) -> None:
        """Run one statement as the superuser in autocommit mode (retried while starting)."""
        import psycopg  # the [postgres] extra; imported late so a missing driver only skips

        deadline = time.monotonic() + 10
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1", port=self.port, user="postgres", dbname=database,
                    autocommit=True,
                ) as conn:  # fmt: skip
                    conn.execute(sql.encode())
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        self.execute("postgres", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run(
                    [self.pg_ctl, "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"],
                    timeout_s=30,
                )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
