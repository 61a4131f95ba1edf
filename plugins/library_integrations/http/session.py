"""A clean ``requests`` session: only the headers we choose, no credentials picked up on the way.

``requests`` adds HTTP Basic credentials from ``~/.netrc`` when a request has no auth of its
own, and Airflow's ``HttpHook.get_conn`` turns a connection's login/password into Basic auth
and its extras into headers. Both would send configuration (a client secret!) to an API.
:func:`clean_session` starts from nothing: a User-Agent, an Accept header and
:func:`no_auth`, which keeps ``.netrc`` out while ``trust_env`` stays on, so
``HTTPS_PROXY``/``NO_PROXY`` and CA bundle settings still apply. The credential of a
request is its auth object (:mod:`~library_integrations.http.auth`).
"""

from __future__ import annotations

from requests import PreparedRequest, Session
from requests.adapters import HTTPAdapter

DEFAULT_USER_AGENT = "library-integrations/0.1 (+Apache Airflow)"


def no_auth(request: PreparedRequest) -> PreparedRequest:
    """An auth that adds nothing (and so stops ``requests`` from reading ``~/.netrc``)."""
    return request


def clean_session(
    *,
    user_agent: str = DEFAULT_USER_AGENT,
    accept: str = "application/json",
    adapter: HTTPAdapter | None = None,
) -> Session:
    """A session whose only headers are ``User-Agent`` and ``Accept`` and whose auth is :func:`no_auth`.

    ``adapter`` (e.g. HttpHook's TCP keep-alive adapter) is mounted for http and https.
    """
    session = Session()
    session.headers.clear()
    session.headers.update({"User-Agent": user_agent, "Accept": accept})
    session.auth = no_auth
    if adapter is not None:
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session
