"""Run the sandbox: in-process (``Sandbox``, a context manager) or as a process (``serve``).

``Sandbox`` binds loopback on a free port by default and serves from a daemon thread with
werkzeug's threaded server, so a test can start one in milliseconds and poll it from the same
process. ``serve`` is the command-line entry: it prints one JSON line with the URLs and
credentials on stdout, logs to stderr, and shuts down cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from luigi_airbyte.sandbox.app import SandboxApp
from luigi_airbyte.sandbox.auth import key_for
from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.notifications import WebhookFaults
from luigi_airbyte.sandbox.world import World, demo_world, load_world, world_from_dict

logger = logging.getLogger(__name__)

WorldLike = World | str | Path | Mapping[str, Any] | None


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler, logging through our logger at DEBUG instead of to stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("%s %s -> %s", self.command, self.path, code)

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.debug(message, *args)


def _as_world(world: WorldLike) -> World:
    if world is None:
        return demo_world()
    if isinstance(world, World):
        return world
    if isinstance(world, (str, Path)):
        return load_world(world)
    return world_from_dict(dict(world))


class Sandbox:
    """An Airbyte-compatible server on loopback, for tests and local runs.

    Example::

        with Sandbox() as sb:
            httpx.post(f"{sb.url}/applications/token",
                       data={"client_id": sb.client_id, "client_secret": sb.client_secret})
    """

    def __init__(
        self,
        world: WorldLike = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: str | Path | None = None,
    ) -> None:
        self.world = _as_world(world)
        self.host = host
        self.port = port
        self.state_path = Path(state_path) if state_path is not None else None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None
        self._app: SandboxApp | None = None

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind, start the engine, and serve from a daemon thread. Returns self."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        try:
            server = make_server(
                self.host, self.port, self._wsgi, threaded=True, request_handler=_QuietHandler
            )
        except SystemExit:  # werkzeug exits the process when the port is taken
            raise OSError(f"cannot bind {self.host}:{self.port} (address in use?)") from None
        self.port = server.port
        try:  # a real connector's spec check can refuse the world: free the port then
            engine = Engine(self.world, state_path=self.state_path, public_base_url=self.url)
        except BaseException:
            server.server_close()
            raise
        try:
            engine.start()
            creds = [(a.client_id, a.client_secret) for a in self.world.applications]
            app = SandboxApp(engine, http_faults=self.world.faults.http, token_key=key_for(creds))
        except BaseException:
            server.server_close()
            engine.close()
            raise
        app.state.base_url = self.base_url
        app.state.info = self.info()
        self._engine, self._app, self._server = engine, app, server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"airbyte-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("sandbox listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and close the engine (idempotent)."""
        server, thread, engine = self._server, self._thread, self._engine
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        if engine is not None:
            engine.close()
            self._engine = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        if self._app is None:  # a request raced start(); answer like a booting server
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"sandbox starting"]
        return self._app(environ, start_response)

    # addresses and credentials -----------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://host:port`` (a wildcard bind is reported as loopback)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The Public API base, as a self-hosted Airbyte serves it."""
        return f"{self.base_url}/api/public/v1"

    @property
    def config_api_url(self) -> str:
        """The Config API base in Airbyte's documented form (``…/api/v1``), as
        dagster-airbyte's ``AirbyteWorkspace`` and Airbyte's docs write it."""
        return f"{self.base_url}/api/v1"

    @property
    def config_api_root(self) -> str:
        """The Config API base in the spec's form (``…/api``; paths start with ``/v1/``)."""
        return f"{self.base_url}/api"

    @property
    def client_id(self) -> str:
        """Client id of the world's first application."""
        return self.world.applications[0].client_id if self.world.applications else ""

    @property
    def client_secret(self) -> str:
        """Client secret of the world's first application."""
        return self.world.applications[0].client_secret if self.world.applications else ""

    @property
    def workspace_id(self) -> str:
        """Id of the world's first workspace."""
        return self.world.workspace_id(self.world.workspaces[0])

    @property
    def engine(self) -> Engine:
        """The running engine (only while started)."""
        if self._engine is None:
            raise RuntimeError("the sandbox is not running; call start() or use `with`")
        return self._engine

    @property
    def app(self) -> SandboxApp:
        """The WSGI app (only while started); handy with ``httpx.WSGITransport``."""
        if self._app is None:
            raise RuntimeError("the sandbox is not running; call start() or use `with`")
        return self._app

    def info(self) -> dict[str, Any]:
        """What ``serve`` prints and ``GET /_sandbox/info`` returns."""
        return {
            "url": self.url,
            "config_api_url": self.config_api_url,
            "config_api_root": self.config_api_root,
            "base_url": self.base_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "workspace_id": self.workspace_id,
        }

    # helpers for tests ---------------------------------------------------------------------

    def requests(
        self,
        path_filter: str | None = None,
        *,
        method: str | None = None,
        endpoint: str | None = None,
    ) -> list[dict[str, Any]]:
        """The request journal (see ``GET /_sandbox/requests`` for the filters)."""
        return self.app.state.log.entries(path_filter, method, endpoint)

    def clear_requests(self) -> None:
        """Forget the request journal."""
        self.app.state.log.clear()

    def set_faults(
        self,
        http: list[Any] | None = None,
        engine: Mapping[str, Any] | None = None,
        webhooks: Mapping[str, Any] | None = None,
    ) -> None:
        """Replace HTTP, engine and/or webhook faults; ``None`` leaves that part alone."""
        if http is not None:
            self.app.state.faults.set(http)
        if engine is not None:
            self.engine.set_engine_faults(dict(engine))
        if webhooks is not None:
            self.engine.webhooks.set_faults(WebhookFaults.parse(dict(webhooks)))

    def faults(self) -> dict[str, Any]:
        """Active faults with their call counters."""
        return {
            "http": self.app.state.faults.snapshot(),
            "engine": self.engine.faults_snapshot(),
            "webhooks": self.engine.webhooks.faults_snapshot(),
        }

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every sync webhook sent, dropped or failed (see notifications.py)."""
        return self.engine.webhooks.journal()

    def set_token_ttl(self, seconds: int) -> None:
        """Lifetime of tokens minted from now on."""
        self.engine.token_ttl_seconds = seconds

    def terminal_times(self) -> dict[int, float]:
        """When each job reached a terminal status (epoch seconds)."""
        return self.engine.terminal_times()

    def destination_counts(self, connection_id: str) -> dict[str, int]:
        """Rows per stream actually in the connection's destination."""
        return self.engine.destination_counts(connection_id)


def _ensure_stderr_logging() -> None:
    """Log to stderr unless the caller (e.g. the CLI) already configured logging."""
    package = logging.getLogger("luigi_airbyte")
    if logging.getLogger().handlers or package.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package.addHandler(handler)
    package.setLevel(logging.INFO)


def serve(
    world_path: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    state_path: str | Path | None = None,
) -> None:
    """Run a sandbox until SIGINT/SIGTERM; print one JSON line of connection info first."""
    _ensure_stderr_logging()
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("sandbox: signal %d, shutting down", signum)
        stop.set()

    in_main = threading.current_thread() is threading.main_thread()
    previous: dict[signal.Signals, Any] = {}
    if in_main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    sandbox = Sandbox(world_path, host=host, port=port, state_path=state_path)
    try:
        sandbox.start()
        info = {k: v for k, v in sandbox.info().items() if k != "base_url"}
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        logger.info("sandbox: stopped")
