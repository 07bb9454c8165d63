"""`Emulator`: a local Okta org on a daemon thread, `with Emulator(config) as emu: emu.url`.

It wires the parts together: the risk endpoint's state (state.py), the authorization server
(oauth.py), which part answers which path (routes.py), and the HTTP framing (handler.py).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from okta_risk_output.emulator.config import Clock, EmulatorConfig
from okta_risk_output.emulator.handler import HttpServer
from okta_risk_output.emulator.routes import route
from okta_risk_output.emulator.state import EmulatorState

if TYPE_CHECKING:
    # Only for annotations, so typing_extensions need not be installed at run time on 3.10.
    from typing_extensions import Self

    from okta_risk_output.emulator.oauth import AuthorizationServer

__all__ = ["Emulator"]

log = logging.getLogger("okta_risk_output.emulator")


class Emulator:
    """A local Okta org on a daemon thread: `with Emulator(config) as emu: emu.url ...`."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Clock = time.time) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.state = EmulatorState(self.config, clock)
        # Imported here rather than at the top: PyJWT and cryptography take tens of ms to load,
        # and every `okta-risk-output` command imports this module through the CLI.
        from okta_risk_output.emulator.oauth import AuthorizationServer

        self.oauth: AuthorizationServer = AuthorizationServer(self.config, clock)
        """The token endpoint and the check of the tokens it issued; raises ValueError for a
        client key it cannot use."""
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:8017; only known once started."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        host = str(host)
        address = ipaddress.ip_address(host)
        if address.is_unspecified:
            # A wildcard address is where we listen, not where a client can connect.
            host = "::1" if address.version == 6 else "127.0.0.1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        if self.config.record_path is not None:
            # Fail now rather than on the first accepted request, deep in a handler thread.
            self.config.record_path.open("a", encoding="utf-8").close()
        self._server = HttpServer(
            self.config.host,
            self.config.port,
            functools.partial(route, self.state, self.oauth),
            clock=self.state.now,
            verbose=self.config.verbose,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"okta-emulator-{self.url}",
            daemon=True,
        )
        self._thread.start()
        if self.config.any_ssws_token:
            log.warning("no API token set: any non-empty SSWS token is accepted")
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
