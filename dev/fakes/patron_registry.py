"""A local stand-in for the national patron registry's SOAP interface, with fault injection.

Faithful where it matters to the sync (design notes section 9, Koha's ``NorwegianPatronDB``):

* SOAP 1.1 RPC over HTTP POST on 127.0.0.1, namespace ``http://lanekortet.no``: ``hent``,
  ``nyPost``, ``endre``, ``slett``, ``soekEndret``; answers ``Svar`` / ``Resultat`` with
  ``status``, ``melding``, ``server_tid`` (the fake's clock, Oslo local time), paging by
  ``neste_indeks`` (1-based; 0 = no more) and a server-side page cap;
* HTTP Basic auth checked as the registry derives it: username ``<vendor code>-<7-digit
  library number>``, password the SHA-256 hex of ``<library auth code>-<vendor secret>``
  (401 otherwise);
* patrons with relations to several libraries: ``nyPost``/``endre`` add the caller's
  relation, ``slett`` removes only the caller's; ``soekEndret`` lists the changed patrons
  related to the caller, each with ``sist_endret_av`` (the library number of the last
  writer, so a caller sees its own changes come back);
* the national population register: name, birth date, gender and postal address of a
  registered person override whatever a library sends;
* validation a careless client would trip on: ``nyPost`` requires ``lnr``, ``navn``,
  ``fnr_hash``; a national id must be valid (python-stdnum); a card number must be ``N`` + 9
  digits and free; a PIN must decrypt with the vendor's key; a person is created once;
* changes "by other libraries" on demand (:meth:`FakePatronRegistry.change_as`), registry
  deletions (:meth:`delete_in_registry`), a controllable clock (:meth:`advance`);
* faults, applied to the next matching request (by operation, library, or an identifier in
  the request), ``repeat`` times (``-1`` = for ever): HTTP status (``503``, ``500`` with a
  SOAP server fault, ...), ``drop`` (close the socket without answering), ``slow N``,
  ``refuse`` (``status`` false with a ``melding``), ``client_fault`` (a SOAP client fault),
  ``hang_after`` (process the request, then hold the answer until :meth:`release`: a
  client killed meanwhile never learns the outcome).

Run it::

    python -m dev.fakes.patron_registry --port 8091

In-process (tests)::

    with FakePatronRegistry().start() as fake:
        fake.add_person(fnr, navn="Nordmann, Kari", ...)
        fake.add_patron(fnr, lnr, libraries=["2000001", "2000002"])
        fake.add_faults({"action": "refuse", "operation": "nyPost", "match": fnr, "melding": "Ugyldig"})
        ...; fake.calls(); fake.patron(fnr)

The fake holds test data only; it logs nothing unless ``verbose``.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from stdnum.no import fodselsnummer

from dev.fakes._server import LocalHttpServer
from library_integrations.clients.registry.models import LAANER_FIELDS, POPULATION_REGISTER_FIELDS
from library_integrations.clients.registry.pin import PinCipher

NS = "http://lanekortet.no"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OSLO = ZoneInfo("Europe/Oslo")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
DEFAULT_PATH = "/api/soap"
DEMO_VENDOR_CODE = "demolms"
DEMO_VENDOR_SECRET = "demo-vendor-secret-not-for-production"  # noqa: S105 - local fake only
DEMO_PIN_KEY = "6465 6d6f 2d70 696e 2d6b 6579 2121 2121".replace(" ", "")  # 16 bytes, hex; demo only
_NATIONAL_CARD = re.compile(r"^N\d{9}$")
_SYSTEM_FIELDS = frozenset({"opprettet", "opprettet_av", "sist_endret", "sist_endret_av"})
OPERATIONS = ("hent", "nyPost", "endre", "slett", "soekEndret")


def demo_auth_code(library_number: str) -> str:
    """The demo's Base Bibliotek auth code of a library (production codes come from NB)."""
    return f"demo-auth-{library_number}"


def derived_password(auth_code: str, vendor_secret: str) -> str:
    return hashlib.sha256(f"{auth_code}-{vendor_secret}".encode()).hexdigest()


# -- faults -------------------------------------------------------------------------------


@dataclass
class Fault:
    """One scripted misbehaviour (see the module docstring)."""

    action: str = "status"  # status | drop | slow | refuse | client_fault | hang_after
    status: int = 503
    melding: str | None = None
    seconds: float = 0.0
    operation: str | None = None  # hent | nyPost | endre | slett | soekEndret (None: any)
    library: str | None = None  # 7-digit library number
    match: str | None = None  # an identifier (national id, card number) in the request
    repeat: int = 1

    def matches(self, operation: str, library: str, values: set[str]) -> bool:
        return (
            (self.operation is None or self.operation == operation)
            and (self.library is None or self.library == library)
            and (self.match is None or self.match in values)
        )


def parse_fault(spec: str | dict | Fault) -> Fault:
    """``"503"``, ``"drop"``, ``"slow 2"``, ``"hang_after"`` or a dict of :class:`Fault` fields."""
    if isinstance(spec, Fault):
        return spec
    if isinstance(spec, dict):
        fault = Fault(**spec)
    else:
        head, _, rest = spec.strip().partition(" ")
        if head.isdigit():
            fault = Fault("status", status=int(head))
        elif head == "slow":
            fault = Fault("slow", seconds=float(rest or 1))
        else:
            fault = Fault(head)
    if fault.action not in ("status", "drop", "slow", "refuse", "client_fault", "hang_after"):
        raise ValueError(f"unknown fault action {fault.action!r}")
    if fault.operation is not None and fault.operation not in OPERATIONS:
        raise ValueError(f"unknown operation {fault.operation!r}")
    return fault


# -- records ------------------------------------------------------------------------------


@dataclass
class Call:
    """One SOAP call the fake answered (or dropped). ``effective``: it changed the registry."""

    at: float
    operation: str
    library: str
    status: bool | None = None
    melding: str | None = None
    fnr: str | None = None
    lnr: str | None = None
    sent: dict[str, str | None] = field(default_factory=dict)
    effective: bool = False
    fault: str | None = None
    http_status: int = 200


@dataclass
class _Patron:
    key: int
    fields: dict[str, str | None]
    relations: set[str]
    deleted: str | None = None  # "lnr" | "fnr": what the registry deletion removed


class _Answer(Exception):
    def __init__(self, status: int, body: bytes, headers: dict | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _now_text(offset: float) -> str:
    return (datetime.now(OSLO) + timedelta(seconds=offset)).strftime(TIME_FORMAT)


# -- SOAP ---------------------------------------------------------------------------------


def _local(element) -> str:
    return etree.QName(element.tag).localname if isinstance(element.tag, str) else ""


def _text(element) -> str | None:
    if element is None or element.get(f"{{{XSI}}}nil") in ("true", "1"):
        return None
    return (element.text or "").strip() or None


def _envelope(operation: str, result_type: str, fields: list[tuple[str, Any]]) -> bytes:
    nsmap = {"soap": SOAP_ENV, "xsi": XSI, "xsd": "http://www.w3.org/2001/XMLSchema", "ns1": NS}
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=nsmap)
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    response = etree.SubElement(body, f"{{{NS}}}{operation}Response")
    result = etree.SubElement(response, "return")
    result.set(f"{{{XSI}}}type", f"ns1:{result_type}")
    for name, value in fields:
        if name == "respons_poster":
            posts = etree.SubElement(result, "respons_poster")
            for record in value:
                item = etree.SubElement(posts, "item")
                item.set(f"{{{XSI}}}type", "ns1:Laaner")
                for key in LAANER_FIELDS:
                    if key in record:
                        element = etree.SubElement(item, key)
                        if record[key] is None:
                            element.set(f"{{{XSI}}}nil", "true")
                        else:
                            element.text = str(record[key])
            continue
        element = etree.SubElement(result, name)
        if value is None:
            element.set(f"{{{XSI}}}nil", "true")
        elif isinstance(value, bool):
            element.text = "true" if value else "false"
        else:
            element.text = str(value)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _fault_envelope(code: str, text: str) -> bytes:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = text
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def parse_request(body: bytes) -> tuple[str, dict[str, Any]]:
    """``(operation, params)``; a ``post`` parameter becomes a dict of the Laaner fields sent."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(body, parser)
    body_el = next(c for c in root if _local(c) == "Body")
    call = next(c for c in body_el if isinstance(c.tag, str))
    params: dict[str, Any] = {}
    for child in call:
        if not isinstance(child.tag, str):
            continue
        if _local(child) == "post":
            params["post"] = {_local(f): _text(f) for f in child if isinstance(f.tag, str)}
        else:
            params[_local(child)] = _text(child)
    return _local(call), params


# -- the server ---------------------------------------------------------------------------


class FakePatronRegistry(LocalHttpServer):
    """The fake registry. ``start()`` serves in a background thread; ``stop()`` ends it."""

    thread_name = "fake-patron-registry"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        vendor_code: str = DEMO_VENDOR_CODE,
        vendor_secret: str = DEMO_VENDOR_SECRET,
        pin_key: str = DEMO_PIN_KEY,
        libraries: dict[str, str] | None = None,
        max_page: int = 200,
        path: str = DEFAULT_PATH,
        verbose: bool = False,
    ) -> None:
        self.vendor_code = vendor_code
        self.vendor_secret = vendor_secret
        self.pin_key = pin_key
        self.cipher = PinCipher.from_setting(pin_key)
        self.libraries = dict(libraries) if libraries is not None else None  # None: any number, demo codes
        self.max_page = max_page
        self.path = path
        self.verbose = verbose
        self._lock = threading.RLock()
        self._patrons: dict[int, _Patron] = {}
        self._population: dict[str, dict[str, str | None]] = {}
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self._offset = 0.0
        self._next_key = 1
        self._release = threading.Event()
        self.hanging = threading.Event()  # set while a hang_after fault holds an answer
        self._bind(host, port, _make_handler(self))

    # -- lifecycle and addresses
    @property
    def endpoint(self) -> str:
        return self.base_url + self.path

    def stop(self) -> None:
        self.release()  # a held answer must not keep the server's shutdown waiting
        super().stop()

    def auth_code(self, library_number: str) -> str | None:
        if self.libraries is None:
            return demo_auth_code(library_number)
        return self.libraries.get(library_number)

    def add_library(self, library_number: str, auth_code: str | None = None) -> str:
        code = auth_code or demo_auth_code(library_number)
        with self._lock:
            if self.libraries is None:
                self.libraries = {}
            self.libraries[library_number] = code
        return code

    def connection(self, isils: list[str], **extra: Any) -> dict:
        """An Airflow connection (``AIRFLOW_CONN_PATRON_REGISTRY`` JSON) for libraries ``isils``."""
        libraries = {isil: {"auth_code": self.auth_code(isil.removeprefix("NO-"))} for isil in isils}
        return {
            "conn_type": "http",
            "host": self.endpoint,
            "login": self.vendor_code,
            "password": self.vendor_secret,
            "extra": {"pin_key": self.pin_key, "libraries": libraries, **extra},
        }

    # -- clock
    def now(self) -> str:
        with self._lock:
            return _now_text(self._offset)

    def advance(self, seconds: float) -> str:
        """Move the fake's clock forward (distinct ``sist_endret`` times for tests); the new time."""
        with self._lock:
            self._offset += seconds
            return _now_text(self._offset)

    # -- data
    def add_person(self, fnr: str, **fields: str | None) -> None:
        """A person in the national population register (name, birth date, gender, postal address)."""
        unknown = set(fields) - POPULATION_REGISTER_FIELDS
        if unknown:
            raise ValueError(f"not population-register fields: {sorted(unknown)}")
        with self._lock:
            self._population[fnr] = dict(fields)

    def add_patron(self, fnr: str, lnr: str, *, libraries: list[str], by: str | None = None, **fields: str | None) -> None:
        """A patron already in the registry, related to ``libraries`` (created by the first)."""
        with self._lock:
            creator = by or libraries[0]
            now = self.now()
            values = {"lnr": lnr, "fnr_hash": fnr, **fields, "opprettet": now, "opprettet_av": creator,
                      "sist_endret": now, "sist_endret_av": creator, "hjemmebibliotek": fields.get("hjemmebibliotek") or creator}
            self._apply_population(values)
            self._patrons[self._next_key] = _Patron(self._next_key, values, set(libraries))
            self._next_key += 1

    def change_as(self, library: str, identifier: str, **fields: str | None) -> str:
        """Change a patron as library ``library`` would (its relation added); the new ``sist_endret``."""
        with self._lock:
            patron = self._find(identifier)
            if patron is None:
                raise KeyError("no such patron in the fake registry")
            self._write(patron, fields, library)
            return patron.fields["sist_endret"]

    def delete_in_registry(self, identifier: str, *, remove: str = "lnr") -> None:
        """A registry deletion: the record loses its card number (``remove="lnr"``) or national id."""
        with self._lock:
            patron = self._find(identifier)
            if patron is None:
                raise KeyError("no such patron in the fake registry")
            field_name = "lnr" if remove == "lnr" else "fnr_hash"
            patron.fields[field_name] = None
            patron.deleted = remove
            patron.fields["sist_endret"] = self.now()
            patron.fields["sist_endret_av"] = "0000000"

    def patron(self, identifier: str) -> dict[str, str | None] | None:
        """A copy of the registry's record (by national id or card number), with ``relations``."""
        with self._lock:
            patron = self._find(identifier)
            if patron is None:
                return None
            return {**copy.deepcopy(patron.fields), "relations": sorted(patron.relations)}

    def all_patrons(self) -> list[dict]:
        with self._lock:
            return [{**copy.deepcopy(p.fields), "relations": sorted(p.relations)} for p in self._patrons.values()]

    def calls(self, operation: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if operation is None or c.operation == operation]

    def writes(self, fnr: str | None = None, lnr: str | None = None) -> list[Call]:
        """Answered write calls (``nyPost``/``endre``/``slett``) about a patron."""
        return [c for c in self.calls() if c.operation in ("nyPost", "endre", "slett")
                and ((fnr and c.fnr == fnr) or (lnr and c.lnr == lnr))]

    # -- faults
    def add_faults(self, *specs: str | dict | Fault) -> list[Fault]:
        faults = [parse_fault(s) for s in specs]
        with self._lock:
            if any(f.action == "hang_after" for f in faults):
                self._release, self.hanging = threading.Event(), threading.Event()
            self._faults.extend(faults)
        return faults

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = []

    def release(self) -> None:
        """Let every held (``hang_after``) answer go."""
        self._release.set()

    def reset(self) -> None:
        """Forget patrons, people, calls and faults; the clock and the libraries stay."""
        self.release()
        with self._lock:
            self._patrons, self._population, self._calls, self._faults = {}, {}, [], []
            self.hanging.clear()
            self._release = threading.Event()

    def _take_fault(self, operation: str, library: str, values: set[str]) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(operation, library, values):
                    if fault.repeat > 0:
                        fault.repeat -= 1
                        if fault.repeat == 0:
                            del self._faults[i]
                    return fault
        return None

    # -- internals
    def _find(self, identifier: str | None, *, include_deleted: bool = False) -> _Patron | None:
        if not identifier:
            return None
        for patron in self._patrons.values():
            if patron.deleted and not include_deleted:
                continue
            if identifier in (patron.fields.get("lnr"), patron.fields.get("fnr_hash")):
                return patron
        return None

    def _apply_population(self, values: dict[str, str | None]) -> None:
        person = self._population.get(values.get("fnr_hash") or "")
        if person is not None:
            for key in POPULATION_REGISTER_FIELDS:
                values[key] = person.get(key)

    def _write(self, patron: _Patron, sent: dict[str, str | None], library: str) -> bool:
        before = (copy.deepcopy(patron.fields), set(patron.relations))
        for key, value in sent.items():
            if key in _SYSTEM_FIELDS or key == "fnr_hash":
                continue
            patron.fields[key] = value
        self._apply_population(patron.fields)
        patron.relations.add(library)
        changed = (patron.fields, patron.relations) != before
        if changed:
            patron.fields["sist_endret"] = self.now()
            patron.fields["sist_endret_av"] = library
        return changed

    def _check_pin(self, sent: dict[str, str | None]) -> None:
        pin = sent.get("pin")
        if pin and not self.cipher.is_valid(pin):
            raise _Refusal("Ugyldig PIN-kode: den må være kryptert med leverandørens nøkkel")

    # -- operations (called with the lock held)
    def op_hent(self, library: str, params: dict, call: Call) -> tuple[str, list]:
        identifier = params.get("identifikator") or ""
        patron = self._find(identifier)
        call.fnr = patron.fields.get("fnr_hash") if patron else (identifier if len(identifier) == 11 else None)
        call.lnr = patron.fields.get("lnr") if patron else (identifier if len(identifier) != 11 else None)
        if patron is None:
            call.status, call.melding = False, "ingen treff"
            return "Resultat", [("status", False), ("melding", "ingen treff"), ("antall_treff", 0),
                                ("antall_poster_returnert", 0), ("neste_indeks", 0), ("respons_poster", []),
                                ("server_tid", self.now())]
        call.status = True
        return "Resultat", [("status", True), ("melding", None), ("antall_treff", 1), ("antall_poster_returnert", 1),
                            ("neste_indeks", 0), ("respons_poster", [dict(patron.fields)]), ("server_tid", self.now())]

    def op_nyPost(self, library: str, params: dict, call: Call) -> tuple[str, list]:  # noqa: N802 - SOAP name
        sent = dict(params.get("post") or {})
        call.sent, call.fnr, call.lnr = sent, sent.get("fnr_hash"), sent.get("lnr")
        missing = [f for f in ("lnr", "navn", "fnr_hash") if not sent.get(f)]
        if missing:
            raise _Refusal(f"Mangler påkrevde felt: {', '.join(missing)}")
        if not fodselsnummer.is_valid(sent["fnr_hash"]):
            raise _Refusal("Ugyldig fødselsnummer")
        if not _NATIONAL_CARD.match(sent["lnr"]):
            raise _Refusal("Ugyldig lånenummer: bare nasjonale lånenummer (N + 9 siffer) kan registreres")
        if self._find(sent["fnr_hash"]) is not None:
            raise _Refusal("Låneren finnes allerede i registeret")
        if self._find(sent["lnr"]) is not None:
            raise _Refusal("Lånenummeret er allerede i bruk")
        self._check_pin(sent)
        now = self.now()
        values = {k: v for k, v in sent.items() if k not in _SYSTEM_FIELDS}
        values.update({"opprettet": now, "opprettet_av": library, "sist_endret": now, "sist_endret_av": library})
        values.setdefault("hjemmebibliotek", library)
        self._apply_population(values)
        self._patrons[self._next_key] = _Patron(self._next_key, values, {library})
        self._next_key += 1
        call.status, call.effective = True, True
        return "Svar", [("status", True), ("melding", None), ("lnr", sent["lnr"]), ("server_tid", now)]

    def op_endre(self, library: str, params: dict, call: Call) -> tuple[str, list]:
        lnr = params.get("lnr") or ""
        sent = dict(params.get("post") or {})
        call.sent, call.lnr = sent, lnr
        patron = self._find(lnr)
        if patron is None:
            raise _Refusal("ingen treff")
        call.fnr = patron.fields.get("fnr_hash")
        new_lnr = sent.get("lnr")
        if new_lnr and new_lnr != patron.fields.get("lnr"):
            if not _NATIONAL_CARD.match(new_lnr):
                raise _Refusal("Ugyldig lånenummer: bare nasjonale lånenummer (N + 9 siffer) kan registreres")
            if self._find(new_lnr) is not None:
                raise _Refusal("Lånenummeret er allerede i bruk")
        self._check_pin(sent)
        call.effective = self._write(patron, sent, library)
        call.status = True
        return "Svar", [("status", True), ("melding", None), ("lnr", patron.fields.get("lnr")), ("server_tid", self.now())]

    def op_slett(self, library: str, params: dict, call: Call) -> tuple[str, list]:
        lnr = params.get("lnr") or ""
        call.lnr = lnr
        patron = self._find(lnr)
        if patron is None:
            raise _Refusal("ingen treff")
        call.fnr = patron.fields.get("fnr_hash")
        if library in patron.relations:
            patron.relations.discard(library)
            call.effective = True
        call.status = True
        return "Svar", [("status", True), ("melding", None), ("lnr", lnr), ("server_tid", self.now())]

    def op_soekEndret(self, library: str, params: dict, call: Call) -> tuple[str, list]:  # noqa: N802 - SOAP name
        since = params.get("tidspunkt") or ""
        try:
            datetime.strptime(since, TIME_FORMAT)
        except ValueError:
            raise _Refusal("Ugyldig tidspunkt: bruk YYYY-MM-DDTHH:MM:SS") from None
        try:
            wanted = int(params.get("max_antall") or 0)
            start = max(1, int(params.get("start_indeks") or 1))
        except ValueError:
            raise _Refusal("Ugyldig max_antall eller start_indeks") from None
        size = min(wanted or self.max_page, self.max_page)
        matches = sorted(
            (p for p in self._patrons.values() if library in p.relations and (p.fields.get("sist_endret") or "") >= since),
            key=lambda p: (p.fields.get("sist_endret") or "", p.key),
        )
        page = matches[start - 1 : start - 1 + size]
        next_index = start + len(page) if start - 1 + len(page) < len(matches) else 0
        call.status = True
        return "Resultat", [("status", True), ("melding", None), ("antall_treff", len(matches)),
                            ("antall_poster_returnert", len(page)), ("neste_indeks", next_index),
                            ("respons_poster", [dict(p.fields) for p in page]), ("server_tid", self.now())]


class _Refusal(Exception):
    """``status`` false with this ``melding``."""


def _make_handler(server: FakePatronRegistry):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakePatronRegistry/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            if server.verbose:
                sys.stderr.write(f"fake-patron-registry: {format % args}\n")

        def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            try:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
            except OSError:
                self.close_connection = True

        def _drop(self) -> None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("", "/_admin"):
                body = json.dumps({"endpoint": server.endpoint, "vendor_code": server.vendor_code}).encode()
                self._send(200, body)
            else:
                self._send(404, b"not found")

        def _library(self) -> str:
            header = self.headers.get("Authorization") or ""
            unauthorized = _Answer(401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="laanekort"'})
            if not header.startswith("Basic "):
                raise unauthorized
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                raise unauthorized from None
            vendor, _, number = user.rpartition("-")
            code = server.auth_code(number) if re.fullmatch(r"\d{7}", number) else None
            if vendor != server.vendor_code or code is None or password != derived_password(code, server.vendor_secret):
                raise unauthorized
            return number

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?")[0] != server.path:
                self._send(404, b"not found")
                return
            try:
                library = self._library()
                try:
                    operation, params = parse_request(raw)
                except (etree.XMLSyntaxError, StopIteration, ValueError):
                    raise _Answer(500, _fault_envelope("Client", "Ugyldig SOAP-forespørsel")) from None
                handler = getattr(server, f"op_{operation}", None)
                if handler is None:
                    raise _Answer(500, _fault_envelope("Client", f"Ukjent operasjon {operation}"))
                values = {v for v in params.values() if isinstance(v, str)}
                values |= {v for v in (params.get("post") or {}).values() if v}
                post = params.get("post") or {}
                call = Call(time.time(), operation, library, fnr=post.get("fnr_hash"),
                            lnr=params.get("lnr") or post.get("lnr"))
                fault = server._take_fault(operation, library, values)
                if fault is not None:
                    call.fault = fault.action
                    if self._apply_fault(fault, call, operation):
                        return
                result_type = "Resultat" if operation in ("hent", "soekEndret") else "Svar"
                with server._lock:
                    if fault is not None and fault.action == "refuse":  # refused before anything changes
                        call.status, call.melding, call.sent = False, fault.melding or "Avvist", dict(post)
                        fields = [("status", False), ("melding", call.melding), ("server_tid", server.now())]
                    else:
                        try:
                            result_type, fields = handler(library, params, call)
                        except _Refusal as refusal:
                            call.status, call.melding = False, str(refusal)
                            fields = [("status", False), ("melding", str(refusal)), ("server_tid", server.now())]
                    server._calls.append(call)
                body = _envelope(operation, result_type, fields)
                if fault is not None and fault.action == "hang_after":
                    server.hanging.set()
                    server._release.wait(timeout=fault.seconds or 60)
                self._send(200, body)
            except _Answer as answer:
                self._send(answer.status, answer.body, answer.headers)

        def _apply_fault(self, fault: Fault, call: Call, operation: str) -> bool:
            """True when the fault answered (or dropped) the request."""
            if fault.action == "slow":
                time.sleep(fault.seconds)
                return False
            if fault.action in ("refuse", "hang_after"):
                return False  # processed, then refused / held (see do_POST)
            with server._lock:
                call.http_status = 0 if fault.action == "drop" else (500 if fault.action == "client_fault" else fault.status)
                server._calls.append(call)
            if fault.action == "drop":
                self._drop()
            elif fault.action == "client_fault":
                self._send(500, _fault_envelope("Client", fault.melding or "Ugyldig forespørsel"))
            elif fault.status == 500:
                self._send(500, _fault_envelope("Server", fault.melding or "Intern feil i registeret"))
            else:
                self._send(fault.status, (fault.melding or "Service Unavailable").encode())
            return True

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.fakes.patron_registry",
                                     description="Run a local fake of the national patron registry's SOAP interface.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091, help="0 = any free port (default 8091)")
    parser.add_argument("--fault", action="append", default=[], help='scripted fault, e.g. "503" (repeatable)')
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    server = FakePatronRegistry(args.host, args.port, verbose=not args.quiet)
    server.add_faults(*args.fault)
    print(f"Fake patron registry listening on {server.endpoint} (vendor {server.vendor_code})", flush=True)
    server.serve_until_interrupted()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Call", "Fault", "FakePatronRegistry", "demo_auth_code", "parse_request"]
