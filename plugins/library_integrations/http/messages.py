"""The API's own explanation of an error, from a JSON, XML or plain-text response body.

A log reader needs the API's words ("loans[3].ean: not a valid EAN-13"), not a status code
alone. :func:`api_message` finds them:

* JSON object: the fields ``message``, ``error_description``, ``detail``, ``title`` and
  ``error`` (a nested ``{"error": {"message": ...}}`` too), joined with ``; `` without
  repeats, plus ``errors`` (any shape) as JSON. Another JSON document: the body as is.
* XML (``<error><message>...</message></error>``, ``<Error><Code>..</Code><Message>..``,
  namespaced or not): the text of elements named ``message``, ``error_description``,
  ``detail``, ``title``, ``description`` or ``reason``; failing that, a leaf ``error``
  element's text; failing that, all text of the document.
* anything else: the body's text, stripped.

An empty body gives the HTTP reason phrase, or ``(no message)``. The result is *not*
redacted: pass it through the client's :class:`~library_integrations.http.redaction.Redactor`
(``api_message(response, redact=redactor)`` does both).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

import requests

JSON_MESSAGE_KEYS = ("message", "error_description", "detail", "title", "error")
XML_MESSAGE_TAGS = ("message", "error_description", "detail", "title", "description", "reason")
NO_MESSAGE = "(no message)"
_XML_PARSE_LIMIT = 256 * 1024  # larger bodies are not parsed as XML (shown as text)
_SPACE = re.compile(r"\s+")


def message_from_json(body: Any) -> str | None:
    """The message of a decoded JSON body, or None if it has none of the known fields."""
    if not isinstance(body, dict):
        return None
    parts = []
    for key in JSON_MESSAGE_KEYS:
        value = body.get(key)
        if not value:
            continue
        if key == "error" and isinstance(value, dict):  # {"error": {"code": ..., "message": ...}}
            nested = message_from_json(value)
            if nested:
                parts.append(nested)
        elif not isinstance(value, dict | list):
            parts.append(str(value))
    errors = body.get("errors")
    if errors:
        parts.append(json.dumps(errors, ensure_ascii=False))
    return "; ".join(dict.fromkeys(parts)) if parts else None


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _text(element: ElementTree.Element) -> str:
    return _SPACE.sub(" ", "".join(element.itertext())).strip()


def message_from_xml(text: str) -> str | None:
    """The message of an XML error body, or None if ``text`` is not XML.

    Parsed with the standard library's expat parser, which neither fetches external entities
    nor expands entity bombs (expat >= 2.4.1); bodies over 256 KB are not parsed.
    """
    stripped = text.strip()
    if not stripped.startswith("<") or len(stripped) > _XML_PARSE_LIMIT:
        return None
    try:
        root = ElementTree.fromstring(stripped)
    except (ElementTree.ParseError, ValueError):
        return None
    elements = list(root.iter())
    parts = [_text(e) for e in elements if _local(e.tag) in XML_MESSAGE_TAGS and _text(e)]
    if not parts:
        parts = [_text(e) for e in elements if _local(e.tag) == "error" and len(e) == 0 and _text(e)]
    if not parts and _text(root):
        parts = [_text(root)]
    return "; ".join(dict.fromkeys(parts)) if parts else None


def message_from_text(text: str) -> str | None:
    """The message of a body in any format: JSON, XML or text (None for an empty body)."""
    stripped = (text or "").strip()
    if not stripped:
        return None
    try:
        body = json.loads(stripped)
    except ValueError:
        body = None
    else:
        return message_from_json(body) or stripped
    return message_from_xml(stripped) or stripped


def api_message(
    response: requests.Response, *, redact: Callable[[str | None], str | None] | None = None
) -> str:
    """The API's message in ``response`` (see the module docstring), redacted by ``redact``."""
    try:
        text = response.text or ""
    except (requests.RequestException, RuntimeError):  # body no longer readable
        text = ""
    message = message_from_text(text) or response.reason or NO_MESSAGE
    if redact is not None:
        message = redact(message) or NO_MESSAGE
    return message
