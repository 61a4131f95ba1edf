"""The API's own error message from JSON, XML and plain-text bodies."""

from __future__ import annotations

import json

import pytest
import requests

from library_integrations.http.messages import (
    NO_MESSAGE,
    api_message,
    message_from_json,
    message_from_text,
    message_from_xml,
)
from library_integrations.http.redaction import Redactor


def response(body: str | bytes, status: int = 400, reason: str | None = "Bad Request", content_type=None):
    r = requests.Response()
    r.status_code = status
    r.reason = reason
    r._content = body.encode() if isinstance(body, str) else body
    r.encoding = "utf-8"
    if content_type:
        r.headers["Content-Type"] = content_type
    return r


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"message": "loans[3].ean: not a valid EAN-13"}, "loans[3].ean: not a valid EAN-13"),
        ({"error": "invalid_client", "error_description": "Unauthorized"}, "Unauthorized; invalid_client"),
        ({"title": "Bad Request", "detail": "reportDate missing"}, "reportDate missing; Bad Request"),
        ({"message": "same", "detail": "same"}, "same"),
        ({"message": "Invalid", "errors": [{"field": "ean"}]}, 'Invalid; [{"field": "ean"}]'),
        ({"error": {"code": 400, "message": "nested message"}}, "nested message"),
        ({"message": ""}, None),
        ({"status": 400}, None),
        ([1, 2], None),
        ("text", None),
    ],
)
def test_json_messages(body, message):
    assert message_from_json(body) == message


def test_json_without_message_fields_is_shown_as_is():
    assert message_from_text('{"status": 400}') == '{"status": 400}'
    assert message_from_text("[1, 2]") == "[1, 2]"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<error><message>Unknown ISBN</message></error>", "Unknown ISBN"),
        ('<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <code>42</code>\n  <message>\n  Bad  date\n </message>\n</error>',
         "Bad date"),
        ("<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>", "Access Denied"),
        ('<e:error xmlns:e="urn:x"><e:message>namespaced</e:message></e:error>', "namespaced"),
        ("<errors><error><message>one</message></error><error><message>two</message></error></errors>",
         "one; two"),
        ("<error>just text</error>", "just text"),
        ("<problem><title>Gone</title><detail>the export expired</detail></problem>", "Gone; the export expired"),
        ("<response><status>failed</status></response>", "failed"),
    ],
)  # fmt: skip
def test_xml_messages(body, message):
    assert message_from_xml(body) == message
    assert message_from_text(body) == message


@pytest.mark.parametrize("body", ["not xml", "<unclosed>", "<a></b>", ""])
def test_not_xml(body):
    assert message_from_xml(body) is None


def test_xml_entities_are_not_expanded_from_outside():
    body = '<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><error><message>&x;</message></error>'
    message = message_from_text(body)
    assert "root:" not in message


def test_plain_text_messages():
    assert message_from_text("  Service temporarily unavailable\n") == "Service temporarily unavailable"
    assert message_from_text("<html><body>unclosed<br></body></html>").startswith("<html>")
    assert message_from_text("   ") is None


def test_api_message_from_responses():
    assert api_message(response(json.dumps({"message": "bad ean"}))) == "bad ean"
    assert api_message(
        response("<error><message>bad xml</message></error>", content_type="application/xml")
    ) == ("bad xml")
    assert api_message(response("plain words", content_type="text/plain")) == "plain words"
    assert api_message(response("", status=503, reason="Service Unavailable")) == "Service Unavailable"
    assert api_message(response("", reason=None)) == NO_MESSAGE


def test_api_message_is_redacted_and_clipped():
    redactor = Redactor("secret-value-1")
    redactor.add_token("tok-abc-123")
    body = json.dumps({"message": "client_secret secret-value-1 or token tok-abc-123 refused " + "x" * 5000})
    message = api_message(response(body), redact=redactor)
    assert "secret-value-1" not in message and "tok-abc-123" not in message
    assert message.startswith("client_secret *** or token *** refused") and len(message) == 2000
