"""Secrets and tokens never reach a log line or an error: ``***`` and clipping."""

from __future__ import annotations

import json
from urllib.parse import quote

from library_integrations.http.redaction import MESSAGE_LIMIT, REDACTED, Redactor, clip, redact

SECRET = "s3cr3t/with+special=chars&more"
TOKEN = "eyJhbGciOi.token-value.sig"


def test_secrets_and_tokens_are_replaced():
    text = f"client_secret={SECRET} and Bearer {TOKEN}"
    assert redact(text, [SECRET, TOKEN]) == f"client_secret={REDACTED} and Bearer {REDACTED}"


def test_json_escaped_and_url_encoded_forms_are_replaced_too():
    echoed = json.dumps({"client_secret": SECRET, "token": TOKEN})
    form = f"client_secret={quote(SECRET, safe='')}"
    assert SECRET not in redact(echoed, [SECRET]) and json.dumps(SECRET)[1:-1] not in redact(echoed, [SECRET])
    assert redact(form, [SECRET]) == f"client_secret={REDACTED}"


def test_short_values_are_not_treated_as_secrets():
    assert redact("a b abc", ["a", "abc", "", None]) == "a b abc"


def test_a_secret_containing_another_is_replaced_whole():
    assert redact("xx-longsecret-yy", ["secret", "longsecret"]) == "xx-***-yy"


def test_long_text_is_clipped():
    assert len(redact("x" * 5000)) == MESSAGE_LIMIT
    assert redact("x" * 5000).endswith("...")
    assert clip("abcdef", 5) == "ab..."
    assert clip("abc", 5) == "abc"
    assert redact(None, [SECRET]) is None


def test_redactor_remembers_the_client_secret_and_recent_tokens():
    redactor = Redactor(SECRET, keep_tokens=2)
    redactor.add_token("token-one-1")
    redactor.add_token("token-two-2")
    text = f"{SECRET} token-one-1 token-two-2 other-extra"
    assert redactor(text, "other-extra") == "*** *** *** ***"
    redactor.add_token("token-three-3")  # the oldest token leaves the window
    assert redactor("token-one-1 token-three-3") == "token-one-1 ***"


def test_redactor_registers_secrets_with_airflows_masker(monkeypatch):
    import airflow.sdk.log

    masked = []
    monkeypatch.setattr(airflow.sdk.log, "mask_secret", masked.append)
    redactor = Redactor("client-secret-1")
    redactor.add_token("a-token-for-the-masker-123")
    redactor.add_token("a-token-for-the-masker-123")  # once is enough
    assert masked == ["client-secret-1", "a-token-for-the-masker-123"]
