"""The next page of a paginated GET, from ``Link`` or ``Next`` headers."""

from __future__ import annotations

import pytest
import requests

from library_integrations.http.pagination import iter_pages, next_page_url


def page(url: str, **headers) -> requests.Response:
    r = requests.Response()
    r.status_code = 200
    r.url = url
    r.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return r


def test_link_header_rel_next():
    r = page(
        "https://x.test/export?after=1",
        Link='<https://x.test/export?after=2>; rel="next", <https://x.test/export>; rel="first"',
    )
    assert next_page_url(r) == "https://x.test/export?after=2"


def test_relative_link_and_next_headers_are_resolved_against_the_page():
    assert next_page_url(page("https://x.test/a/export?p=1", Link='</a/export?p=2>; rel="next"')) == (
        "https://x.test/a/export?p=2"
    )
    assert (
        next_page_url(page("https://x.test/a/export?p=1", Next="export?p=2")) == "https://x.test/a/export?p=2"
    )
    assert next_page_url(page("https://x.test/a", X_Next_Page="https://y.test/b")) == "https://y.test/b"


def test_last_page_has_no_next():
    assert next_page_url(page("https://x.test/a")) is None
    assert next_page_url(page("https://x.test/a", Link='<https://x.test/a?p=1>; rel="prev"')) is None
    assert next_page_url(page("https://x.test/a", Next="  ")) is None


def test_iter_pages_follows_until_the_last_page():
    pages = {
        "https://x.test/e": page("https://x.test/e", Next="/e?p=2"),
        "https://x.test/e?p=2": page("https://x.test/e?p=2", Link='</e?p=3>; rel="next"'),
        "https://x.test/e?p=3": page("https://x.test/e?p=3"),
    }
    assert [r.url for r in iter_pages("https://x.test/e", pages.__getitem__)] == list(pages)


def test_iter_pages_refuses_loops_and_runaways():
    loop = {"https://x.test/e": page("https://x.test/e", Next="/e")}
    with pytest.raises(RuntimeError, match="loops back"):
        list(iter_pages("https://x.test/e", loop.__getitem__))
    with pytest.raises(RuntimeError, match="More than 3 pages"):
        list(
            iter_pages(
                "https://x.test/0",
                lambda url: page(url, Next=str(int(url.rsplit("/", 1)[1]) + 1)),
                max_pages=3,
            )
        )
