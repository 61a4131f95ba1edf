"""The Export Service client against the fake service over real HTTP on 127.0.0.1 (no database)."""

from __future__ import annotations

import email.utils
import math
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests

from library_integrations.clients.bokbasen import onix
from library_integrations.clients.bokbasen.errors import (
    BokbasenAuthError,
    BokbasenClockSkewError,
    BokbasenConfigError,
    BokbasenCursorTooOld,
    BokbasenExportParameterError,
    BokbasenRetryableError,
)
from library_integrations.clients.bokbasen.export import (
    BokbasenExportHook,
    after_parameter,
    link_url,
    parse_error_body,
)

PAGES = 7


def recent_after(days: float = 100) -> str:
    return after_parameter(datetime.now(UTC) - timedelta(days=days))


def pagesize_for(fake, pages: int = PAGES) -> int:
    size = math.ceil(len(fake.events()) / pages)
    assert math.ceil(len(fake.events()) / size) == pages
    return size


def read_all(hook, **start):
    pages = list(hook.pages(**start))
    return pages, [item for page in pages for item in onix.iter_products(page.body)]


def test_follows_link_as_given_and_keeps_next(fresh_fake_export, export_hook_factory):
    fake = fresh_fake_export
    hook = export_hook_factory(pagesize=pagesize_for(fake))
    pages, items = read_all(hook, after=recent_after())
    assert len(pages) == PAGES and len(items) == len(fake.events())
    assert [p.link is None for p in pages] == [False] * (PAGES - 1) + [True]
    sent = fake.requests()
    # The first request is built from the connection; every later one is the Link URL, untouched
    # (the fake adds a "page" parameter a client would not invent).
    assert "after" in sent[0].params and "page" not in sent[0].params
    for previous, request in zip(sent, sent[1:], strict=False):
        given = urlsplit(previous.link_header.split(">")[0].lstrip("<"))
        assert request.path == f"{given.path}?{given.query}"
        assert request.params["page"] and request.params["next"] == previous.next_header
    assert [p.next_cursor for p in pages] == [r.next_header for r in sent]
    assert pages[-1].next_cursor == fake.final_next()
    for request in sent:  # RFC 1123 Date and the bearer token on every request, nothing else of ours
        date = request.header("Date")
        assert date.endswith(" GMT") and abs(
            (email.utils.parsedate_to_datetime(date) - datetime.now(UTC)).total_seconds()) < 60
        assert request.header("Authorization").startswith("Bearer ")
        assert request.params["subscription"] == "extended"


def test_empty_page_keeps_next_and_has_no_link(fresh_fake_export, export_hook_factory):
    fake = fresh_fake_export
    hook = export_hook_factory()
    (page,) = list(hook.pages(next_cursor=fake.final_next()))
    assert page.next_cursor == fake.final_next() and page.link is None
    assert onix.parse_page(page.body).count == 0


def test_5xx_dropped_and_cut_connections_mid_pagination_are_retried_without_loss_or_repeats(
    fresh_fake_export, export_hook_factory
):
    fake = fresh_fake_export
    fake.add_faults("500 skip=2", "503 Retry-After: 0", "drop skip=1", "cut skip=1", "502")
    hook = export_hook_factory(pagesize=pagesize_for(fake))
    pages, items = read_all(hook, after=recent_after())
    assert len(pages) == PAGES
    refs = fake.served_record_references()
    assert sorted(refs) == sorted(e.record_reference for e in fake.events())  # each change served once
    assert len(items) == len(fake.events())
    assert not fake.pending_faults()
    assert sum(p.attempts for p in pages) == PAGES + 5


def test_retries_give_up_with_a_retryable_error(fresh_fake_export, export_hook_factory):
    fresh_fake_export.add_faults("503 repeat=-1")
    hook = export_hook_factory(retry_overrides={"max_attempts": 3})
    with pytest.raises(BokbasenRetryableError, match="after 3 attempt"):
        list(hook.pages(after=recent_after()))


def test_401_gets_one_new_token_then_a_second_401_fails(fresh_fake_export, export_hook_factory):
    fake = fresh_fake_export
    hook = export_hook_factory(pagesize=pagesize_for(fake))
    hook.auth.token()  # a token in hand (fetched or cached) before the run
    fake.add_faults("revoke skip=2")
    before = fake.token_request_count
    pages, _ = read_all(hook, after=recent_after())
    assert len(pages) == PAGES
    assert fake.token_request_count - before == 1  # exactly one new token, after the 401 on page 3
    assert [r.status for r in fake.requests()] == [200, 200, 401, *[200] * (PAGES - 2)]
    assert hook.token_refreshes == 1 and pages[2].attempts == 2
    fake.add_faults("revoke repeat=2")
    with pytest.raises(BokbasenAuthError, match="HTTP 401"):
        hook.fetch_page(hook.start_url(after=recent_after()))


def test_413_halves_the_page_size(fresh_fake_export, export_hook_factory):
    fake = fresh_fake_export
    fake.add_faults("413 Request entity too large")
    hook = export_hook_factory(pagesize=40)
    pages, items = read_all(hook, after=recent_after())
    assert [r.params["pagesize"] for r in fake.requests()][:2] == ["40", "20"]
    assert len(items) == len(fake.events()) and hook.pagesize == 20


def test_date_skew_error_says_the_clock_is_off_with_the_servers_message(fresh_fake_export, export_hook_factory):
    fresh_fake_export.configure(clock_offset=3600)
    hook = export_hook_factory()
    with pytest.raises(BokbasenClockSkewError) as caught:
        hook.fetch_page(hook.start_url(after=recent_after()))
    message = str(caught.value)
    assert "not within the boundary of 15 minutes skew" in message  # the server's own words
    offset = re.search(r"the worker's clock is off by about (\d+) s \(behind Bokbasen's", message)
    assert offset and abs(int(offset.group(1)) - 3600) <= 2
    assert caught.value.errors[0][0] == "DATE_SKEW" and len(fresh_fake_export.requests()) == 1  # not retried


def test_missing_parameter_error_carries_the_servers_message(fresh_fake_export, export_hook_factory):
    fresh_fake_export.add_faults("strip subscription")
    hook = export_hook_factory()
    with pytest.raises(BokbasenExportParameterError, match="Mandatory parameter subscription is missing"):
        hook.fetch_page(hook.start_url(after=recent_after()))


def test_plain_text_error_bodies_are_read_too(fresh_fake_export, export_hook_factory):
    fresh_fake_export.configure(error_format="text")
    hook = export_hook_factory()
    with pytest.raises(BokbasenCursorTooOld, match="older than 180 days"):
        hook.fetch_page(hook.start_url(after=recent_after(days=200)))
    old = fresh_fake_export.cursor_for(3, datetime.now(UTC) - timedelta(days=181))
    with pytest.raises(BokbasenCursorTooOld, match="refused the cursor as too old"):
        hook.fetch_page(hook.start_url(next_cursor=old))


def test_a_link_to_another_origin_is_not_followed(fresh_fake_export, export_hook_factory):
    hook = export_hook_factory()
    response = requests.Response()
    response.headers["Link"] = '<https://elsewhere.example/metadata/export/onix?next=x>; rel="next"'
    url = link_url(response, hook.start_url(after=recent_after()))
    assert url.startswith("https://elsewhere.example/")
    with pytest.raises(BokbasenConfigError, match="another origin"):
        hook._check_same_origin(url)
    relative = requests.Response()
    relative.headers["Link"] = '</metadata/export/onix?next=y>; rel="next"'
    assert link_url(relative, fresh_fake_export.export_url + "?a=1") == fresh_fake_export.export_url + "?next=y"


def test_error_bodies_with_more_elements():
    body = ("<errors><error><code>INVALID_PARAMETER</code><message>pagesize must be a positive integer</message>"
            "<parameter>pagesize</parameter><value>0</value></error><error><code>X</code><message>second</message>"
            "</error></errors>")
    errors = parse_error_body(body)
    assert [(e.code, e.message) for e in errors] == [("INVALID_PARAMETER", "pagesize must be a positive integer"),
                                                    ("X", "second")]
    assert errors[0].details == {"parameter": "pagesize", "value": "0"}
    assert str(errors[0]) == "INVALID_PARAMETER: pagesize must be a positive integer; parameter=pagesize; value=0"


def test_connection_settings(monkeypatch, fresh_fake_export):
    import json

    conn = fresh_fake_export.connection(pagesize=5000, unknown_extra="x")
    monkeypatch.setenv("AIRFLOW_CONN_BOKBASEN_EXPORT", json.dumps(conn))
    hook = BokbasenExportHook(state_conn_id=None)
    assert (hook.config.subscription, hook.pagesize) == ("extended", 1000)  # capped at the service's maximum
    assert hook.config.audience == fresh_fake_export.audience  # scheme + host + first path segment
    assert "client_secret='***'" in repr(hook.config) and fresh_fake_export.client_secret not in repr(hook.config)
    del conn["extra"]["subscription"]
    monkeypatch.setenv("AIRFLOW_CONN_BOKBASEN_EXPORT", json.dumps(conn))
    with pytest.raises(BokbasenConfigError, match="extra 'subscription'"):
        BokbasenExportHook(state_conn_id=None).config  # noqa: B018
    conn["extra"].update(subscription="gold", pagesize=10)
    monkeypatch.setenv("AIRFLOW_CONN_BOKBASEN_EXPORT", json.dumps(conn))
    with pytest.raises(BokbasenConfigError, match="'gold' is not one of basic, extended, school"):
        BokbasenExportHook(state_conn_id=None).config  # noqa: B018
    conn["extra"].update(subscription="basic", pagesize="many")
    monkeypatch.setenv("AIRFLOW_CONN_BOKBASEN_EXPORT", json.dumps(conn))
    with pytest.raises(BokbasenConfigError, match="pagesize must be a whole number"):
        BokbasenExportHook(state_conn_id=None).config  # noqa: B018


def test_a_slow_answer_times_out_and_is_fetched_again(fresh_fake_export, export_hook_factory):
    fake = fresh_fake_export
    fake.add_faults("slow 1.5 skip=1")
    hook = export_hook_factory(pagesize=pagesize_for(fake), read_timeout=0.5)
    pages, items = read_all(hook, after=recent_after())
    assert len(pages) == PAGES and pages[1].attempts == 2 and len(items) == len(fake.events())
    assert [r.fault for r in fake.requests()][:2] == [None, "slow"]
