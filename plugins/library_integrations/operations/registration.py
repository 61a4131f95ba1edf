"""What the Airflow plugin registers for the operations view: cheap to import.

Every Airflow process loads the plugins (scheduler, dag-processor, task runners), but only the
API server serves the view. So this module imports neither FastAPI nor Airflow's API code: the
FastAPI app is built on its first request (:class:`LazyApp`), in the API server.

- ``FASTAPI_APP``: the app mounted at ``/operations`` on the API server (its pages and a JSON
  API, behind Airflow's authentication: see :mod:`library_integrations.operations.app`);
- ``EXTERNAL_VIEW``: the "Operations" entry in the UI's navigation, which shows the app's page
  inside the Airflow UI at ``/plugin/operations``.

>>> EXTERNAL_VIEW["url_route"], EXTERNAL_VIEW["href"], FASTAPI_APP["url_prefix"]
('operations', 'operations/', '/operations')
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

URL_PREFIX = "/operations"  # where the API server mounts the app
UI_ROUTE = "operations"  # the view's page in the Airflow UI: /plugin/operations


class LazyApp:
    """An ASGI app that builds the real one (``factory()``) on its first request."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._app: Any = None
        self._lock = threading.Lock()

    @property
    def app(self) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._factory()
        return self._app

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)


def _create_app():
    from library_integrations.operations.app import create_app

    return create_app()


FASTAPI_APP = {
    "name": "Library integrations: operations",
    "app": LazyApp(_create_app),
    "url_prefix": URL_PREFIX,
}

EXTERNAL_VIEW = {
    "name": "Operations",
    # Relative to the API server's base URL (no leading slash), so it works behind a proxy path.
    "href": URL_PREFIX.lstrip("/") + "/",
    "url_route": UI_ROUTE,
    "destination": "nav",
    "category": None,
    "nav_top_level": True,
}
