"""Following paginated GETs: the next page's URL from ``Link: <...>; rel="next"`` or a ``Next`` header.

For APIs such as Bokbasen's Export Service, which page through results with response
headers. Each page is one operation of its own, so fetch it through
:func:`~library_integrations.http.retry.send_with_retries`::

    for response in iter_pages(first_url, lambda url: send_with_retries(
            lambda _: session.get(url, auth=auth, timeout=options.timeout), classify, policy)):
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urljoin

import requests

NEXT_HEADERS = ("Next", "X-Next", "X-Next-Page")


def next_page_url(response: requests.Response) -> str | None:
    """The next page's absolute URL, or None on the last page.

    ``Link`` (RFC 8288) ``rel="next"`` first, then a ``Next``/``X-Next``/``X-Next-Page``
    header holding a URL or a path (resolved against the request's URL).
    """
    link = (response.links or {}).get("next", {}).get("url")
    candidate = link or next(
        (response.headers[name].strip() for name in NEXT_HEADERS if response.headers.get(name, "").strip()),
        None,
    )
    if not candidate:
        return None
    return urljoin(response.url or (response.request.url if response.request else "") or "", candidate)


def iter_pages(
    first_url: str,
    get_page: Callable[[str], requests.Response],
    *,
    max_pages: int = 10_000,
) -> Iterator[requests.Response]:
    """Every page's response, from ``first_url`` on, following :func:`next_page_url`.

    Stops on the last page; raises ``RuntimeError`` when a server points back to a page
    already read or the pages exceed ``max_pages`` (a loop, not data).
    """
    seen: set[str] = set()
    url: str | None = first_url
    while url is not None:
        if url in seen:
            raise RuntimeError(f"Pagination loops back to {url}")
        if len(seen) >= max_pages:
            raise RuntimeError(f"More than {max_pages} pages from {first_url}; giving up")
        seen.add(url)
        response = get_page(url)
        yield response
        url = next_page_url(response)
