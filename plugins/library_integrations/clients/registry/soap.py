"""The registry's SOAP 1.1 interface (RPC style, namespace ``http://lanekortet.no``) over ``requests`` + ``lxml``.

Operations (section 9 of the design notes; Koha's ``NorwegianPatronDB.pm`` calls the same):

=================================================  ===========================================
``hent(identifikator)``                            ``Resultat``: the patron with that card
                                                   number or national id, or ``ingen treff``
``nyPost(post: Laaner)``                           ``Svar``: create
``endre(lnr, post: Laaner)``                       ``Svar``: update (adds the caller's relation)
``slett(lnr)``                                     ``Svar``: remove the caller's relation
``soekEndret(tidspunkt, max_antall, start_indeks)``  ``Resultat``: changed since, paged by
                                                   ``neste_indeks``
=================================================  ===========================================

Envelopes are built with ``lxml`` (parameters unqualified, ``xsi:type`` on each, as
SOAP::Lite sends them; an empty value is an ``xsi:nil`` element: clear that field), sent
with ``SOAPAction: ""`` and the library's Basic auth. Answers are read by local element
names, so a ``return`` wrapper, SOAP-ENC array items or namespaced children all parse; the
parser resolves no entities and fetches nothing. zeep is not needed: five operations with
flat parameters, and the registry's WSDL adds nothing the client checks.

Transport: the shared retry loop (:func:`~library_integrations.http.retry.send_with_retries`):
timeouts, dropped connections, 408/429/5xx and SOAP *server* faults are retried with
backoff and jitter within the operation's budget; a SOAP *client* fault or another 4xx is
:class:`~.errors.RegistryRejected`; 401 is :class:`~.errors.RegistryAuthError` naming the
username (never the password); a 3xx/404 is a configuration error.

Nothing here logs personal data: log lines name the library and the operation; the
registry's ``melding`` is scrubbed (:mod:`.privacy`) of the values sent and of anything
that looks like an id, a card number, a phone number or an e-mail address.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree
from requests import Response, Session
from requests.auth import HTTPBasicAuth

from library_integrations.clients.registry.cards import is_national_card_number
from library_integrations.clients.registry.config import RegistryConfig
from library_integrations.clients.registry.errors import (
    RegistryAuthError,
    RegistryConfigError,
    RegistryForbidden,
    RegistryRejected,
    RegistryRetryableError,
)
from library_integrations.clients.registry.models import (
    CREATE_REQUIRED,
    LAANER_FIELDS,
    CardCheck,
    ChangesPage,
    Lookup,
    RegistryPatron,
    ReplyStatus,
    WriteReply,
    reply_status,
)
from library_integrations.clients.registry.privacy import scrub
from library_integrations.http.redaction import Redactor
from library_integrations.http.retry import (
    Retry,
    RetryBudget,
    RetryNotice,
    is_transient_status,
    send_with_retries,
)
from library_integrations.http.session import clean_session

log = logging.getLogger(__name__)

NS = "http://lanekortet.no"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
NSMAP = {"soap": SOAP_ENV, "soapenc": SOAP_ENC, "xsi": XSI, "xsd": XSD, "ns1": NS}
USER_AGENT = "library-integrations-patron-registry/0.1 (+Apache Airflow)"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


class SoapFault(Exception):
    """A SOAP Fault in a response: ``code`` (``Client``/``Server``/...) and ``text`` (scrubbed)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text

    @property
    def is_client_fault(self) -> bool:
        return self.code.rsplit(":", 1)[-1].lower().startswith("client")


class NotSoap(Exception):
    """A body that is not a SOAP envelope (an error page from a proxy, truncated XML, ...)."""


# -- envelopes ------------------------------------------------------------------------------


def _typed(parent: etree._Element, name: str, value: Any) -> etree._Element:
    element = etree.SubElement(parent, name)
    if value is None:
        element.set(f"{{{XSI}}}nil", "true")
    elif isinstance(value, bool):
        element.set(f"{{{XSI}}}type", "xsd:boolean")
        element.text = "true" if value else "false"
    elif isinstance(value, int):
        element.set(f"{{{XSI}}}type", "xsd:int")
        element.text = str(value)
    else:
        element.set(f"{{{XSI}}}type", "xsd:string")
        element.text = str(value)
    return element


def build_envelope(operation: str, params: Sequence[tuple[str, Any]]) -> bytes:
    """A SOAP 1.1 RPC envelope calling ``operation`` with ``params`` (a ``RegistryPatron`` becomes a ``Laaner``).

    >>> print(build_envelope("hent", [("identifikator", "X")]).decode())  # doctest: +ELLIPSIS
    <?xml version='1.0' encoding='utf-8'?>
    <soap:Envelope ...><soap:Body><ns1:hent soap:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><identifikator xsi:type="xsd:string">X</identifikator></ns1:hent></soap:Body></soap:Envelope>
    """
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=NSMAP)
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    call = etree.SubElement(body, f"{{{NS}}}{operation}")
    call.set(f"{{{SOAP_ENV}}}encodingStyle", SOAP_ENC)
    for name, value in params:
        if isinstance(value, RegistryPatron):
            post = etree.SubElement(call, name)
            post.set(f"{{{XSI}}}type", "ns1:Laaner")
            for field_name, field_value in value.values.items():
                _typed(post, field_name, field_value)
        else:
            _typed(call, name, value)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in _children(element):
        if _local(child) == name:
            return child
    return None


def _text(element: etree._Element | None) -> str | None:
    if element is None or element.get(f"{{{XSI}}}nil") in ("true", "1"):
        return None
    text = (element.text or "").strip()
    return text or None


def parse_envelope(content: bytes) -> etree._Element:
    """The result element of an RPC response (``<xResponse><return>...``), or raise
    :class:`SoapFault` / :class:`NotSoap`."""
    try:
        root = etree.fromstring(content, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise NotSoap(f"not XML ({type(exc).__name__})") from None
    if _local(root) != "Envelope":
        raise NotSoap(f"XML but not a SOAP envelope (root element {_local(root)!r})")
    body = _child(root, "Body")
    if body is None or not _children(body):
        raise NotSoap("a SOAP envelope without a body")
    first = _children(body)[0]
    if _local(first) == "Fault":
        code = _text(_child(first, "faultcode")) or "Server"
        text = _text(_child(first, "faultstring")) or "(no faultstring)"
        raise SoapFault(code, text)
    if _child(first, "status") is not None:  # document style: the response element is the result
        return first
    inner = _children(first)
    return inner[0] if inner else first


def parse_patron(element: etree._Element) -> RegistryPatron:
    values = {}
    for child in _children(element):
        name = _local(child)
        if name in LAANER_FIELDS:
            values[name] = _text(child)
    return RegistryPatron(values)


def _status(result: etree._Element) -> bool:
    return (_text(_child(result, "status")) or "").lower() in ("true", "1")


def _int(result: etree._Element, name: str) -> int:
    try:
        return int(_text(_child(result, name)) or 0)
    except ValueError:
        return 0


def parse_records(result: etree._Element) -> tuple[RegistryPatron, ...]:
    posts = _child(result, "respons_poster")
    if posts is None:
        return ()
    items = _children(posts)
    if any(_local(i) in LAANER_FIELDS for i in items):  # a single Laaner without a wrapper
        return (parse_patron(posts),)
    return tuple(parse_patron(item) for item in items)


# -- the client -------------------------------------------------------------------------------


@dataclass
class CallStats:
    """Requests made by one client (for the task's log line)."""

    calls: int = 0
    http_requests: int = 0
    retried: int = 0


class SoapPatronRegistry:
    """:class:`~.interface.PatronRegistry` over SOAP, for one library (see the module docstring)."""

    def __init__(
        self,
        config: RegistryConfig,
        *,
        session: Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._session = session
        self._sleep = sleep
        self._auth = HTTPBasicAuth(config.username, config.password)
        self._redactor = Redactor(config.password)
        self.stats = CallStats()

    def __repr__(self) -> str:
        return f"SoapPatronRegistry({self.config!r})"

    @property
    def library_number(self) -> str:
        return self.config.library_number

    @property
    def isil(self) -> str:
        return self.config.isil

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = clean_session(user_agent=USER_AGENT, accept="text/xml")
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> SoapPatronRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ------------------------------------------------------------------------

    def _call(self, operation: str, params: Sequence[tuple[str, Any]], known: Sequence[str | None]) -> etree._Element:
        """Send one operation with retries; the result element, or a typed error."""
        cfg = self.config
        what = f"{operation} for {cfg.isil}"
        body = build_envelope(operation, params)
        budget = RetryBudget(cfg.retry, self._sleep, label=what)
        self.stats.calls += 1

        def send_once(attempt: int) -> Response:
            self.stats.http_requests += 1
            return self.session.post(
                cfg.endpoint,
                data=body,
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
                auth=self._auth,
                timeout=cfg.timeout,
                allow_redirects=False,
            )

        def classify(response: Response, attempt: int) -> etree._Element | Retry:
            status = response.status_code
            result: etree._Element | None = None
            fault: SoapFault | None = None
            not_soap = ""
            try:
                result = parse_envelope(response.content)
            except SoapFault as exc:
                fault = exc
            except NotSoap as exc:
                not_soap = str(exc)
            message = (
                scrub(self._redactor(fault.text), *known) if fault is not None else f"HTTP {status} {response.reason or ''}".strip()
            )
            if status == 200 and result is not None:
                return result
            if status == 401:
                raise RegistryAuthError(
                    f"The patron registry refused the credentials of {cfg.isil} (HTTP 401, user {cfg.username!r}). "
                    f"Check the library's auth code in the connection's extra libraries[{cfg.isil!r}] (the operator "
                    "refreshes library codes daily) and the vendor secret.",
                    status_code=status,
                    attempts=attempt,
                )
            if status == 403:
                raise RegistryForbidden(
                    f"The patron registry refused {what} (HTTP 403): {message}", status_code=status, attempts=attempt
                )
            if fault is not None and fault.is_client_fault:
                raise RegistryRejected(
                    f"The patron registry rejected {what} (SOAP client fault {fault.code}): {message}",
                    status_code=status,
                    attempts=attempt,
                    api_message=message,
                )
            if fault is not None or is_transient_status(status):
                problem = f"SOAP fault {fault.code}: {message}" if fault is not None else f"HTTP {status}"
                return Retry.for_response(response, problem, message)
            if status == 200:  # a 200 that is not an envelope: a proxy's page, a cut-off body
                return Retry(f"HTTP 200 with a body that is not SOAP ({not_soap})", status)
            if 300 <= status < 400 or status in (404, 405):
                raise RegistryConfigError(
                    f"The patron registry endpoint {cfg.endpoint} answered HTTP {status} to {what}: "
                    "check the connection's host",
                    status_code=status,
                    attempts=attempt,
                )
            raise RegistryRejected(
                f"The patron registry refused {what} (HTTP {status})", status_code=status, attempts=attempt
            )

        def on_retry(notice: RetryNotice) -> None:
            self.stats.retried += 1
            log.warning(
                "Patron registry %s: %s (attempt %d/%d); %s",
                what,
                notice.retry.problem,
                notice.attempt,
                notice.max_attempts,
                notice.how,
            )

        def on_give_up(notice: RetryNotice) -> RegistryRetryableError:
            return RegistryRetryableError(
                f"The patron registry did not answer {what} after {notice.attempt} attempt(s) in "
                f"{notice.elapsed:.0f} s; last problem: {notice.retry.problem}. Transient: retried next run.",
                status_code=notice.retry.status_code,
                attempts=notice.attempt,
                api_message=notice.retry.api_message,
            )

        return send_with_retries(send_once, classify, cfg.retry, budget=budget, on_retry=on_retry, on_give_up=on_give_up)

    def _melding(self, result: etree._Element, known: Sequence[str | None]) -> str | None:
        return scrub(self._redactor(_text(_child(result, "melding"))), *known)

    def _write_reply(self, result: etree._Element, known: Sequence[str | None]) -> WriteReply:
        ok = _status(result)
        message = self._melding(result, known)
        return WriteReply(
            status=reply_status(ok, _text(_child(result, "melding"))),
            message=message,
            server_time=_text(_child(result, "server_tid")),
            card_number_returned=_text(_child(result, "lnr")) is not None,
        )

    # -- the interface --------------------------------------------------------------------

    def search(self, identifier: str) -> Lookup:
        known = [identifier]
        result = self._call("hent", [("identifikator", identifier)], known)
        ok = _status(result)
        records = parse_records(result) if ok else ()
        status = reply_status(ok, _text(_child(result, "melding")))
        if status is ReplyStatus.OK and not records:
            status = ReplyStatus.NO_MATCH
        return Lookup(
            status=status,
            patron=records[0] if records else None,
            message=self._melding(result, known),
            server_time=_text(_child(result, "server_tid")),
        )

    def changes_since(self, since: str, *, start_index: int = 1, max_count: int = 100) -> ChangesPage:
        result = self._call(
            "soekEndret", [("tidspunkt", since), ("max_antall", int(max_count)), ("start_indeks", int(start_index))], ()
        )
        ok = _status(result)
        status = reply_status(ok, _text(_child(result, "melding")))
        return ChangesPage(
            status=status,
            records=parse_records(result) if ok else (),
            total=_int(result, "antall_treff"),
            next_index=_int(result, "neste_indeks"),
            server_time=_text(_child(result, "server_tid")),
            message=self._melding(result, ()),
        )

    def create(self, patron: RegistryPatron) -> WriteReply:
        missing = [name for name in CREATE_REQUIRED if not patron.get(name)]
        if missing:
            raise ValueError(f"nyPost needs {', '.join(missing)}")
        known = list(patron.values.values())
        return self._write_reply(self._call("nyPost", [("post", patron)], known), known)

    def update(self, card_number: str, patron: RegistryPatron) -> WriteReply:
        known = [card_number, *patron.values.values()]
        return self._write_reply(self._call("endre", [("lnr", card_number), ("post", patron)], known), known)

    def remove_relation(self, card_number: str) -> WriteReply:
        known = [card_number]
        return self._write_reply(self._call("slett", [("lnr", card_number)], known), known)

    def check_card_number(self, card_number: str) -> CardCheck:
        """``N`` + 9 digits, inside a series reserved for this library when the connection lists
        them, and unknown to the registry (``hent`` answers ``ingen treff``)."""
        if not is_national_card_number(card_number):
            return CardCheck(False, "not a national card number (N + 9 digits)")
        series = self.config.reserved_series
        if series and not any(s.contains(card_number) for s in series):
            return CardCheck(False, f"outside the series reserved for {self.isil} ({', '.join(map(str, series))})")
        lookup = self.search(card_number)
        if lookup.status is ReplyStatus.OK:
            return CardCheck(False, "already in use in the registry", in_use=True)
        if lookup.status is ReplyStatus.REFUSED:
            return CardCheck(False, f"the registry refused the check: {lookup.message}")
        return CardCheck(True)

    def new_default_pin(self) -> str:
        return self.config.pin.new_default_pin()

    def is_own_change(self, record: RegistryPatron) -> bool:
        by = (record.changed_by or "").strip().lower()
        if not by:
            return False
        own = {self.library_number, self.isil.lower(), self.config.username.lower()}
        return by in own or by.removeprefix("no-") == self.library_number


def registry_for(isil: str, conn_id: str = "patron_registry", **kwargs: Any) -> SoapPatronRegistry:
    """The SOAP client of library ``isil`` from the Airflow connection ``conn_id``."""
    from library_integrations.clients.registry.config import config_from_connection

    return SoapPatronRegistry(config_from_connection(isil, conn_id), **kwargs)


__all__ = ["SoapPatronRegistry", "build_envelope", "parse_envelope", "registry_for"]
