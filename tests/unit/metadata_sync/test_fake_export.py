"""The fake Export Service keeps the documented contract: raw HTTP, no client code in between."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest
import requests

from dev.fakes.bokbasen_export import FakeBokbasenExport, build_feed, parse_fault, synthetic_products
from library_integrations.clients.bokbasen import onix
from library_integrations.clients.bokbasen.export import parse_error_body


def token(fake) -> str:
    answer = requests.post(fake.token_url, json={"grant_type": "client_credentials", "client_id": fake.client_id,
                                                 "client_secret": fake.client_secret, "audience": fake.audience},
                           timeout=5)
    answer.raise_for_status()
    return answer.json()["access_token"]


def get(fake, params: dict, *, headers: dict | None = None, bearer: str | None = None) -> requests.Response:
    sent = {"Date": email.utils.formatdate(usegmt=True), "Authorization": f"Bearer {bearer or token(fake)}"}
    sent.update(headers or {})
    return requests.get(fake.export_url, params=params, headers={k: v for k, v in sent.items() if v is not None},
                        timeout=5)


def after(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y%m%d%H%M%S")


@pytest.fixture(scope="module")
def big_fake():
    server = FakeBokbasenExport(products=synthetic_products(1200, seed=4), deletes=0, malformed=0).start()
    yield server
    server.stop()


def test_pagesize_is_capped_at_1000_and_link_only_while_more_remain(big_fake):
    first = get(big_fake, {"subscription": "basic", "after": after(60), "pagesize": "5000"})
    assert first.status_code == 200 and onix.parse_page(first.content).count == 1000
    assert first.headers["Next"] and 'rel="next"' in first.headers["Link"]
    default = get(big_fake, {"subscription": "basic", "after": after(60)})
    assert onix.parse_page(default.content).count == 1000  # pagesize omitted: the default (= maximum)
    second = requests.get(first.links["next"]["url"], headers={"Date": email.utils.formatdate(usegmt=True),
                                                              "Authorization": f"Bearer {token(big_fake)}"}, timeout=5)
    assert onix.parse_page(second.content).count == 200 and "Link" not in second.headers
    assert second.headers["Next"] == big_fake.final_next()


def test_empty_page_next_unchanged_no_link(fresh_fake_export):
    fake = fresh_fake_export
    cursor = fake.final_next()
    answer = get(fake, {"subscription": "extended", "next": cursor})
    assert answer.status_code == 200 and answer.headers["Next"] == cursor and "Link" not in answer.headers
    assert onix.parse_page(answer.content).count == 0
    fake.add_changes(synthetic_products(2, seed=99))
    answer = get(fake, {"subscription": "extended", "next": cursor})
    assert onix.parse_page(answer.content).count == 2 and answer.headers["Next"] != cursor


def test_cursors_are_opaque_and_signed(fresh_fake_export):
    fake = fresh_fake_export
    cursor = fake.final_next()
    assert not any(str(e.seq) == cursor for e in fake.events())
    forged = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    answer = get(fake, {"subscription": "extended", "next": forged})
    assert answer.status_code == 400 and parse_error_body(answer.text)[0].code == "INVALID_PARAMETER"


@pytest.mark.parametrize("params, status, code, words", [
    ({"after": after(10)}, 400, "MISSING_PARAMETER", "subscription is missing"),
    ({"subscription": "extended"}, 400, "MISSING_PARAMETER", "next or after is mandatory"),
    ({"subscription": "extended", "after": after(10), "next": "x"}, 400, "INVALID_PARAMETER", "Only one"),
    ({"subscription": "extended", "after": after(181)}, 400, "PARAMETER_TOO_OLD", "older than 180 days"),
    ({"subscription": "extended", "after": "2026-11-01"}, 400, "INVALID_PARAMETER", "yyyyMMddHHmmss"),
    ({"subscription": "extended", "after": after(10), "pagesize": "0"}, 400, "INVALID_PARAMETER", "pagesize"),
    ({"subscription": "platinum", "after": after(10)}, 400, "INVALID_PARAMETER", "subscription"),
])
def test_parameter_errors_as_xml(fresh_fake_export, params, status, code, words):
    answer = get(fresh_fake_export, params)
    assert answer.status_code == status and answer.headers["Content-Type"].startswith("application/xml")
    (error,) = parse_error_body(answer.text)
    assert error.code == code and words in error.message


def test_header_errors(fresh_fake_export):
    fake = fresh_fake_export
    params = {"subscription": "extended", "after": after(10)}
    assert parse_error_body(get(fake, params, headers={"Date": None}).text)[0].code == "MISSING_HEADER"
    assert parse_error_body(get(fake, params, headers={"Date": "2026-11-25 10:00"}).text)[0].code == "INVALID_DATE"
    skewed = email.utils.formatdate((datetime.now(UTC) - timedelta(minutes=16)).timestamp(), usegmt=True)
    answer = get(fake, params, headers={"Date": skewed})
    assert answer.status_code == 400 and parse_error_body(answer.text)[0].code == "DATE_SKEW"
    assert get(fake, params, headers={"Authorization": "Basic abc"}).status_code == 401
    assert parse_error_body(get(fake, params, bearer="not-a-token").text)[0].code == "INVALID_TOKEN"
    fake.revoke_all_tokens()
    revoked = token(fake)
    fake.revoke_all_tokens()
    assert parse_error_body(get(fake, params, bearer=revoked).text)[0].code == "EXPIRED_TOKEN"


def test_plain_text_errors_and_a_skewed_server_clock(fresh_fake_export):
    fake = fresh_fake_export
    fake.configure(error_format="text", clock_offset=-1200)
    answer = get(fake, {"subscription": "extended", "after": after(10)})
    assert answer.status_code == 400 and answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text.startswith("The Date header is not within the boundary of 15 minutes")
    server_date = email.utils.parsedate_to_datetime(answer.headers["Date"])
    assert abs((datetime.now(UTC) - server_date).total_seconds() - 1200) < 5


def test_feed_has_deletes_after_their_products_and_malformed_products():
    products = synthetic_products(100, seed=1)
    now = datetime.now(UTC)
    events = build_feed(products, start=now - timedelta(days=3), end=now, deletes=0.1, malformed=0.05, seed=1)
    deletes = [e for e in events if e.notification == "05"]
    assert deletes and all(e.product.malformed is None for e in deletes)
    first_seen = {}
    for e in events:
        first_seen.setdefault(e.product.ean, e.seq)
    assert all(first_seen[e.product.ean] < e.seq for e in deletes)
    assert any(e.product.malformed for e in events)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(a.at < b.at for a, b in zip(events, events[1:], strict=False))


def test_fault_specs():
    assert vars(parse_fault("503 Retry-After: 2 skip=3")) == {
        "action": "status", "status": 503, "retry_after": "2", "message": None, "seconds": 0.0, "param": None,
        "endpoint": "export", "repeat": 1, "skip": 3}
    assert parse_fault("token:500 repeat=2").endpoint == "token"
    assert parse_fault("strip next").param == "next"
    with pytest.raises(ValueError):
        parse_fault("explode")
