"""What every fake HTTP server shares: a ``ThreadingHTTPServer`` on 127.0.0.1, its address and lifecycle.

A fake subclasses :class:`LocalHttpServer`, calls :meth:`_bind` with its request handler in
``__init__`` and names its thread (``thread_name``). ``start()`` serves in a daemon thread
(tests), ``serve_forever()`` / ``serve_until_interrupted()`` in the caller's (``python -m dev ...``); ``with fake:`` starts
and stops it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LocalHttpServer:
    thread_name = "fake-server"

    def _bind(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._httpd.server_address[0]}:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def serve_until_interrupted(self) -> None:
        """Serve in this thread until Ctrl-C, then stop (the fakes' command lines)."""
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self if self._thread else self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
