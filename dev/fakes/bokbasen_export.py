"""A local stand-in for Bokbasen's Export Service (ONIX 3.0) and its token endpoint, with fault injection.

Faithful where it matters to the metadata sync (the service's documented behaviour):

* ``GET <export path>`` with ``subscription`` (``basic``/``extended``/``school``), ``pagesize``
  (default and maximum 1000; above the maximum the default is used) and exactly one of
  ``next=<cursor>`` or ``after=yyyyMMddHHmmss`` (read as UTC); both are refused when older
  than 180 days;
* headers ``Authorization: Bearer <token>`` (OAuth2 client credentials from the token
  endpoint, audience checked, tokens expire) and an RFC 1123 ``Date`` within 15 minutes of
  the server clock (``clock_offset`` shifts the server clock to provoke skew errors);
* answers: an ONIX 3.0 message (reference tags) of the next changes; ``Next``: an opaque,
  signed cursor, **always present, unchanged when the page is empty**; ``Link: <url>;
  rel="next"`` **only while more pages remain** (its URL carries an extra ``page`` parameter,
  so a client that rebuilds URLs instead of following the link as given is caught);
* refusals as XML ``<errors><error><code/><message/>...</error></errors>`` (or plain text with
  ``error_format="text"``, as for non-XML reports): missing/invalid parameters, a too-old
  cursor, missing headers, a malformed or skewed ``Date``, expired/invalid tokens or a
  wrong ``Authorization`` prefix (401), an unexpected server error (500).

The feed is a list of change events (products, deletes, and a few malformed products that
a parser must name and skip), each with a sequence number and an internal timestamp. Build
it from synthetic products (:func:`synthetic_products`) or from the synthetic library
system's catalogue (:func:`products_from_lms`: its ISBNs, with Bokbasen's titles, authors,
languages and forms, including titles the catalogue lacks).

Run it::

    python -m dev.fakes.bokbasen_export --port 8090 --products 5000
    python -m dev.fakes.bokbasen_export --port 0 --lms-dsn postgresql:///lms --fault "500 skip=2"

It prints ``EXPORT_URL=...``, ``TOKEN_URL=...``, ``AUDIENCE=...`` and one line per request.
In-process (tests)::

    with FakeBokbasenExport(products=synthetic_products(60)).start() as server:
        server.add_faults("503 Retry-After: 1 skip=2", "drop", "cut", "revoke", "413")
        ...; server.final_next(); server.served_record_references()

Fault specs (string or dict; the first fault that matches a request applies, ``repeat`` times,
``-1`` = for ever, after letting ``skip`` matching requests pass): ``"500"``, ``"503
Retry-After: 2"``, ``"413"``, ``"400 message"``, ``"slow 3"`` (sleep, then answer normally),
``"drop"`` (close the socket without answering), ``"html"`` (200 with a proxy's HTML page
instead of ONIX, and the page's headers), ``"cut"`` (send the headers and half the
body, then close), ``"revoke"`` (revoke the presented token: 401), ``"strip subscription"``
(the server does not see that parameter). Prefix ``token:`` to target the token endpoint;
suffix ``repeat=N`` or ``skip=N``.

Admin endpoints (JSON): ``GET /_admin/stats``, ``GET /_admin/requests``, ``POST
/_admin/faults`` (``[spec, ...]``), ``POST /_admin/reset``, ``POST /_admin/config``
(``clock_offset``, ``max_date_skew``, ``expires_in``, ``error_format``, ``max_pagesize``).
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import hashlib
import hmac
import json
import random
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape

from dev.fakes._server import LocalHttpServer
from dev.fakes.bokbasen import DEFAULT_CLIENT_ID as DEMO_CLIENT_ID
from dev.fakes.bokbasen import DEFAULT_CLIENT_SECRET as DEMO_CLIENT_SECRET

DEFAULT_TOKEN_PATH = "/oauth/token"
DEFAULT_EXPORT_PATH = "/metadata/export/onix"
DEFAULT_PORT = 8090
ONIX_NAMESPACE = "http://ns.editeur.org/onix/3.0/reference"
SUBSCRIPTIONS = ("basic", "extended", "school")
AFTER_FORMAT = "%Y%m%d%H%M%S"
MALFORMED_KINDS = ("no_ean", "bad_checksum", "no_title", "no_record_reference")
# Bokbasen ProductForm codes per catalogue material type (audio CD / download, e-book, paper).
FORMS = {
    "BOOK": ("BC", "BB"),
    "LARGE_PRINT": ("BC",),
    "AUDIOBOOK_CD": ("AC",),
    "AUDIOBOOK_CASSETTE": ("AB",),
    "AUDIOBOOK_DAISY": ("AJ",),
    "AUDIOBOOK_ONLINE": ("AJ", "AN"),
    "EBOOK": ("ED", "EA"),
}
PUBLISHERS = ("Gyldendal", "Cappelen Damm", "Aschehoug", "Samlaget", "Oktober", "Davvi Girji", "Vigmostad & Bjørke")
AUDIENCES = ("Voksen", "Barn", "Ungdom")


def _ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


# -- the feed -----------------------------------------------------------------------------------


@dataclass
class FeedProduct:
    """One product as Bokbasen describes it. ``contributors``: ``(role, "Surname, Given")`` in
    sequence order. ``malformed``: one of :data:`MALFORMED_KINDS` to send it broken."""

    ean: str
    title: str | None
    subtitle: str | None = None
    contributors: list[tuple[str, str]] = field(default_factory=list)
    language: str | None = "nob"
    product_form: str | None = "BC"
    publication_date: str | None = None
    date_format: str = "05"
    publisher: str | None = "Gyldendal"
    audience: str | None = "Voksen"
    record_reference: str | None = None
    malformed: str | None = None

    @property
    def reference(self) -> str:
        return self.record_reference or f"bokbasen-{self.ean}"

    @property
    def authors(self) -> list[str]:
        authors = [name for role, name in self.contributors if role == "A01"]
        return authors or [name for role, name in self.contributors if role == "B01"]


@dataclass(frozen=True)
class ChangeEvent:
    """One change in the feed: ``seq`` orders it, ``at`` is its internal timestamp."""

    seq: int
    at: datetime
    product: FeedProduct
    notification: str = "03"

    @property
    def record_reference(self) -> str:
        return self.product.reference


def _words(rng: random.Random, words: Sequence[str], low: int, high: int) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(low, high)))


def _describe(rng: random.Random, ean: str, *, title: str | None = None, authors: Sequence[str] | None = None,
              language: str | None = None, material: str = "BOOK", year: int | None = None) -> FeedProduct:
    from dev.generator import GIVEN_NAMES, SURNAMES, TITLE_WORDS

    def person() -> str:
        return f"{rng.choice(SURNAMES)}, {rng.choice(GIVEN_NAMES)}"

    names = list(authors) if authors else [person() for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    contributors = [("A01", name) for name in names]
    if not authors and rng.random() < 0.05:  # an anthology: editors only
        contributors = [("B01", name) for name in names]
    if rng.random() < 0.15:
        contributors.append(("B06", person()))  # translator
    form = rng.choice(FORMS.get(material, ("BC",)))
    if form.startswith("A"):
        contributors.append(("E07", person()))  # reader of an audiobook
    year = year or rng.randint(1890, 2026)
    full_date = rng.random() < 0.3
    return FeedProduct(
        ean=ean,
        title=title or _words(rng, TITLE_WORDS, 1, 4),
        subtitle=_words(rng, TITLE_WORDS, 1, 3).lower() if rng.random() < 0.2 else None,
        contributors=contributors,
        language=language or rng.choice(["nob", "nob", "nob", "nno", "eng", "sme"]),
        product_form=form,
        publication_date=f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" if full_date else str(year),
        date_format="00" if full_date else "05",
        publisher=rng.choice(PUBLISHERS),
        audience=rng.choice(AUDIENCES) if rng.random() < 0.9 else None,
    )


def synthetic_products(n: int, *, seed: int = 7, prefix: str = "97882") -> list[FeedProduct]:
    """``n`` products with distinct, valid ISBN-13s, Norwegian and Sámi titles and names."""
    rng = random.Random(seed)
    seen: set[str] = set()
    products = []
    while len(products) < n:
        ean = _ean13(prefix + "".join(str(rng.randint(0, 9)) for _ in range(12 - len(prefix))))
        if ean in seen:
            continue
        seen.add(ean)
        products.append(_describe(rng, ean, material=rng.choice(["BOOK"] * 6 + ["AUDIOBOOK_ONLINE", "EBOOK"])))
    return products


def products_from_lms(dsn: str, *, seed: int = 7, coverage: float = 0.9, limit: int | None = None) -> list[FeedProduct]:
    """Products for the synthetic library system's ISBNs (``lms.manifestation``), as Bokbasen knows them.

    Each book-like manifestation whose ISBN is valid becomes a product with probability
    ``coverage`` (Bokbasen does not know every book). The catalogue's title and authors are
    kept where it has them; where it lacks them, Bokbasen's own are made up, so the loan
    report has something to fill in. Several catalogue forms of one ISBN are one product.
    """
    import psycopg
    from stdnum import isbn as stdnum_isbn

    rng = random.Random(seed)
    products: dict[str, FeedProduct] = {}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT isbn, title, authors, lower(trim(language)), material_type_code, publication_year "
            "FROM lms.manifestation WHERE isbn IS NOT NULL AND material_type_code = ANY(%s) ORDER BY id",
            (list(FORMS),),
        ).fetchall()
    for isbn, title, authors, language, material, year in rows:
        compact = "".join(ch for ch in isbn if ch.isalnum()).upper()
        if not stdnum_isbn.is_valid(compact):
            continue
        ean = stdnum_isbn.compact(stdnum_isbn.to_isbn13(compact))
        if ean in products or rng.random() >= coverage:
            continue
        language = language if language and re.fullmatch(r"[a-z]{3}", language) else None
        products[ean] = _describe(rng, ean, title=(title or "").strip() or None, authors=authors or None,
                                  language=language, material=material, year=year)
        if limit is not None and len(products) >= limit:
            break
    return list(products.values())


def _product_xml(event: ChangeEvent) -> str:
    p = event.product
    out = ["<Product>"]
    if p.malformed != "no_record_reference":
        out.append(f"<RecordReference>{escape(p.reference)}</RecordReference>")
    out.append(f"<NotificationType>{event.notification}</NotificationType>")
    if p.malformed == "no_ean":
        out.append(f"<ProductIdentifier><ProductIDType>01</ProductIDType><IDTypeName>Bokbasen</IDTypeName>"
                   f"<IDValue>BB{p.ean[-7:]}</IDValue></ProductIdentifier>")
    else:
        ean = p.ean
        if p.malformed == "bad_checksum":
            ean = ean[:-1] + str((int(ean[-1]) + 1) % 10)
        out.append(f"<ProductIdentifier><ProductIDType>03</ProductIDType><IDValue>{ean}</IDValue></ProductIdentifier>")
        out.append(f"<ProductIdentifier><ProductIDType>15</ProductIDType><IDValue>{ean}</IDValue></ProductIdentifier>")
    if event.notification == "05":
        out.append("</Product>")
        return "".join(out)
    out.append("<DescriptiveDetail><ProductComposition>00</ProductComposition>")
    if p.product_form:
        out.append(f"<ProductForm>{escape(p.product_form)}</ProductForm>")
    if p.title and p.malformed != "no_title":
        subtitle = f"<Subtitle>{escape(p.subtitle)}</Subtitle>" if p.subtitle else ""
        out.append(f"<TitleDetail><TitleType>01</TitleType><TitleElement><TitleElementLevel>01</TitleElementLevel>"
                   f"<TitleText>{escape(p.title)}</TitleText>{subtitle}</TitleElement></TitleDetail>")
    # Contributors in a shuffled document order: the SequenceNumber is what orders them.
    numbered = list(enumerate(p.contributors, start=1))
    random.Random(p.ean).shuffle(numbered)
    for sequence, (role, name) in numbered:
        out.append(f"<Contributor><SequenceNumber>{sequence}</SequenceNumber><ContributorRole>{role}</ContributorRole>"
                   f"<PersonNameInverted>{escape(name)}</PersonNameInverted></Contributor>")
    if p.language:
        out.append(f"<Language><LanguageRole>01</LanguageRole><LanguageCode>{escape(p.language)}</LanguageCode></Language>")
    if p.audience:
        out.append(f"<Audience><AudienceCodeType>04</AudienceCodeType><AudienceCodeTypeName>Bokbasen_Audience"
                   f"</AudienceCodeTypeName><AudienceCodeValue>{escape(p.audience)}</AudienceCodeValue></Audience>")
    out.append("</DescriptiveDetail><PublishingDetail>")
    if p.publisher:
        out.append(f"<Publisher><PublishingRole>01</PublishingRole><PublisherName>{escape(p.publisher)}</PublisherName>"
                   "</Publisher>")
    if p.publication_date:
        out.append(f'<PublishingDate><PublishingDateRole>01</PublishingDateRole><Date dateformat="{p.date_format}">'
                   f"{escape(p.publication_date)}</Date></PublishingDate>")
    out.append("</PublishingDetail></Product>")
    return "".join(out)


def onix_message(events: Iterable[ChangeEvent], sent: datetime | None = None) -> bytes:
    """An ONIX 3.0 reference-tag message holding ``events`` (deletes as notification 05)."""
    sent = sent or datetime.now(UTC)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<ONIXMessage release="3.0" xmlns="{ONIX_NAMESPACE}">',
        "<Header><Sender><SenderName>Bokbasen AS</SenderName></Sender>",
        f"<SentDateTime>{sent.strftime('%Y%m%dT%H%M%SZ')}</SentDateTime></Header>",
    ]
    parts.extend(_product_xml(e) for e in events)
    parts.append("</ONIXMessage>\n")
    return "".join(parts).encode("utf-8")


def build_feed(products: Sequence[FeedProduct], *, start: datetime, end: datetime, deletes: float = 0.05,
               malformed: float = 0.03, seed: int = 7) -> list[ChangeEvent]:
    """Change events between ``start`` and ``end``: every product once, a share of them broken
    (``malformed``), and deletes of a share of the others (``deletes``) later in the feed."""
    rng = random.Random(seed)
    items: list[tuple[FeedProduct, str]] = []
    for i, product in enumerate(products):
        if malformed and rng.random() < malformed:
            product = replace(product, malformed=MALFORMED_KINDS[i % len(MALFORMED_KINDS)])
        items.append((product, "03" if rng.random() < 0.8 else "02"))
    good = [i for i, (product, _) in enumerate(items) if product.malformed is None]
    chosen = rng.sample(good, k=int(len(good) * deletes)) if deletes else []
    # Each delete comes after its product; inserted from the back so earlier positions stay valid.
    for position, product in sorted(((rng.randint(i + 1, len(items)), items[i][0]) for i in chosen),
                                    key=lambda pair: pair[0], reverse=True):
        items.insert(position, (product, "05"))
    span = (end - start) / max(1, len(items))
    return [ChangeEvent(i + 1, start + span * i, product, notification)
            for i, (product, notification) in enumerate(items)]


# -- faults ---------------------------------------------------------------------------------------


@dataclass
class Fault:
    """One scripted misbehaviour. ``action``: status | slow | drop | cut | html | revoke | strip | pass."""

    action: str = "status"
    status: int | None = None
    retry_after: str | None = None
    message: str | None = None
    seconds: float = 0.0
    param: str | None = None
    endpoint: str = "export"
    repeat: int = 1
    skip: int = 0


def parse_fault(spec: str | dict | Fault) -> Fault:
    """A :class:`Fault` from a spec (see the module docstring)."""
    if isinstance(spec, Fault):
        return spec
    if isinstance(spec, dict):
        data = dict(spec)
        if data.get("retry_after") is not None:
            data["retry_after"] = str(data["retry_after"])
        data.setdefault("action", "status" if data.get("status") else "pass")
        fault = Fault(**data)
    else:
        text = spec.strip()
        kwargs: dict[str, Any] = {"endpoint": "export"}
        for prefix in ("token:", "export:"):
            if text.lower().startswith(prefix):
                kwargs["endpoint"], text = prefix[:-1], text[len(prefix):].strip()
        for key in ("repeat", "skip"):
            match = re.search(rf"(?:^|\s){key}=(-?\d+)", text, flags=re.I)
            if match:
                kwargs[key] = int(match.group(1))
                text = (text[: match.start()] + text[match.end():]).strip()
        match = re.search(r"retry-after(?::\s*|=)(.+)$", text, flags=re.I)
        if match:
            kwargs["retry_after"] = match.group(1).strip()
            text = text[: match.start()].strip()
        head, _, rest = text.partition(" ")
        head = head.lower()
        if head in ("drop", "cut", "revoke", "html"):
            fault = Fault(action=head, **kwargs)
        elif head == "slow":
            fault = Fault(action="slow", seconds=float(rest or 1), **kwargs)
        elif head == "strip":
            fault = Fault(action="strip", param=rest.strip(), **kwargs)
        elif head in ("ok", "pass"):
            fault = Fault(action="pass", **kwargs)
        elif head.isdigit():
            fault = Fault(action="status", status=int(head), message=rest.strip() or None, **kwargs)
        else:
            raise ValueError(f"Unknown fault spec {spec!r}")
    if fault.action not in ("status", "slow", "drop", "cut", "revoke", "strip", "html", "pass"):
        raise ValueError(f"Unknown fault action {fault.action!r}")
    if fault.endpoint not in ("export", "token"):
        raise ValueError(f"Unknown fault endpoint {fault.endpoint!r}")
    return fault


# -- records and state ---------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """A request the server saw and what it answered (``status`` None: dropped or cut)."""

    at: float
    method: str
    path: str
    endpoint: str
    params: dict[str, str]
    headers: list[tuple[str, str]]
    status: int | None = None
    fault: str | None = None
    served: list[str] = field(default_factory=list)  # record references of the page's products
    next_header: str | None = None
    link_header: str | None = None
    note: str | None = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def public(self) -> dict:
        data = asdict(self)
        data["headers"] = [[k, "Bearer ***" if k.lower() == "authorization" else v] for k, v in self.headers]
        return data


@dataclass
class _Config:
    expires_in: float = 3600.0
    max_date_skew: float = 900.0
    max_age_days: float = 180.0
    max_pagesize: int = 1000
    clock_offset: float = 0.0  # seconds the server's clock is ahead of the real one
    error_format: str = "xml"  # or "text"


@dataclass
class _Token:
    client_id: str
    audience: str
    expires_at: float
    revoked: bool = False


class _Answer(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, **details: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.details = details


class FakeBokbasenExport(LocalHttpServer):
    """The fake Export Service. ``start()`` serves in a background thread; ``stop()`` ends it."""

    thread_name = "fake-bokbasen-export"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        products: Sequence[FeedProduct] | None = None,
        events: Sequence[ChangeEvent] | None = None,
        feed_start: datetime | None = None,
        feed_end: datetime | None = None,
        deletes: float = 0.05,
        malformed: float = 0.03,
        seed: int = 7,
        audience: str | None = None,
        export_path: str = DEFAULT_EXPORT_PATH,
        token_path: str = DEFAULT_TOKEN_PATH,
        verbose: bool = False,
        **config: Any,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.export_path = export_path
        self.token_path = token_path
        self.verbose = verbose
        self._secret = secrets.token_bytes(16)  # signs cursors: a forged or mangled cursor is refused
        self._initial_config = _Config(**config)
        self._lock = threading.Lock()
        now = datetime.now(UTC)
        if events is None:
            events = build_feed(products if products is not None else synthetic_products(200, seed=seed),
                                start=feed_start or now - timedelta(days=30), end=feed_end or now - timedelta(hours=1),
                                deletes=deletes, malformed=malformed, seed=seed)
        self._initial_events = list(events)
        self._reset_state()
        self._bind(host, port, _make_handler(self))
        first_segment = [s for s in export_path.split("/") if s][0]
        self.audience = audience or f"{self.base_url}/{first_segment}/"

    def _reset_state(self, tokens: dict | None = None) -> None:
        self._config = replace(self._initial_config)
        self._events: list[ChangeEvent] = list(self._initial_events)
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._tokens: dict[str, _Token] = tokens if tokens is not None else {}
        self._issued: list[str] = []
        self._token_requests = 0

    # -- URLs
    @property
    def export_url(self) -> str:
        return self.base_url + self.export_path

    @property
    def token_url(self) -> str:
        return self.base_url + self.token_path

    def connection(self, *, subscription: str = "extended", pagesize: int | None = None, **extra: Any) -> dict:
        """An Airflow connection (dict for ``AIRFLOW_CONN_BOKBASEN_EXPORT``) pointing at this server."""
        extras = {"token_url": self.token_url, "subscription": subscription, **extra}
        if pagesize is not None:
            extras["pagesize"] = pagesize
        return {"conn_type": "http", "host": self.export_url, "login": self.client_id,
                "password": self.client_secret, "extra": extras}

    # -- lifecycle

    # -- scripting
    def reset(self, *, tokens: bool = False) -> None:
        """Back to the initial feed; forget faults, records, counters and config changes.
        Issued tokens stay valid unless ``tokens``."""
        with self._lock:
            self._reset_state(None if tokens else self._tokens)

    def add_faults(self, *specs: str | dict | Fault) -> list[Fault]:
        faults = [parse_fault(s) for s in specs]
        with self._lock:
            self._faults.extend(faults)
        return faults

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = []

    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def configure(self, **changes: Any) -> None:
        """Change ``clock_offset``, ``max_date_skew``, ``max_age_days``, ``max_pagesize``,
        ``expires_in`` or ``error_format`` (until :meth:`reset`)."""
        with self._lock:
            for key, value in changes.items():
                if not hasattr(self._config, key):
                    raise ValueError(f"Unknown setting {key!r}")
                setattr(self._config, key, type(getattr(self._initial_config, key))(value))

    def now(self) -> datetime:
        """The server's clock (the real one shifted by ``clock_offset``)."""
        with self._lock:
            offset = self._config.clock_offset
        return datetime.now(UTC) + timedelta(seconds=offset)

    def add_changes(self, products: Iterable[FeedProduct], notification: str = "03") -> list[ChangeEvent]:
        """Append changes (``05`` = deletes) timestamped now: what the next sync should pick up."""
        added = []
        with self._lock:
            for product in products:
                last = self._events[-1] if self._events else None
                at = datetime.now(UTC) + timedelta(seconds=self._config.clock_offset)
                if last is not None and at <= last.at:
                    at = last.at + timedelta(milliseconds=1)
                event = ChangeEvent((last.seq if last else 0) + 1, at, product, notification)
                self._events.append(event)
                added.append(event)
        return added

    def revoke_all_tokens(self) -> int:
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True
            return len(self._tokens)

    # -- cursors
    def cursor_for(self, seq: int, at: datetime) -> str:
        """The opaque cursor of position ``seq`` at internal time ``at`` (signed)."""
        text = f"v1.{seq}.{int(at.timestamp() * 1000)}"
        mac = hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()[:16]
        return base64.urlsafe_b64encode(f"{text}.{mac}".encode()).decode().rstrip("=")

    def read_cursor(self, cursor: str) -> tuple[int, datetime] | None:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            version, seq, millis, mac = raw.split(".")
        except (ValueError, UnicodeDecodeError):
            return None
        text = f"{version}.{seq}.{millis}"
        if version != "v1" or not hmac.compare_digest(
            mac, hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()[:16]
        ):
            return None
        return int(seq), datetime.fromtimestamp(int(millis) / 1000, UTC)

    def final_next(self) -> str:
        """The ``Next`` a complete sync of the current feed ends on."""
        with self._lock:
            last = self._events[-1]
        return self.cursor_for(last.seq, last.at)

    # -- reading
    def events(self) -> list[ChangeEvent]:
        with self._lock:
            return list(self._events)

    def requests(self, endpoint: str | None = "export") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if endpoint is None or r.endpoint == endpoint]

    def served_record_references(self) -> list[str]:
        """Record references of every product served in a successful answer, in order (repeats kept)."""
        with self._lock:
            return [ref for r in self._requests if r.status == 200 for ref in r.served]

    @property
    def token_request_count(self) -> int:
        with self._lock:
            return self._token_requests

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    def stats(self) -> dict:
        with self._lock:
            by_status: dict[str, int] = {}
            for r in self._requests:
                if r.endpoint == "export":
                    key = str(r.status) if r.status is not None else (r.fault or "dropped")
                    by_status[key] = by_status.get(key, 0) + 1
            return {
                "token_requests": self._token_requests,
                "export_requests": sum(by_status.values()),
                "export_requests_by_status": by_status,
                "events": len(self._events),
                "served_products": sum(len(r.served) for r in self._requests if r.status == 200),
                "faults_pending": len(self._faults),
                "config": asdict(self._config),
            }

    # -- internals used by the handler
    def _take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.endpoint != endpoint:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                if fault.repeat > 0:
                    fault.repeat -= 1
                    if fault.repeat == 0:
                        del self._faults[i]
                return fault
        return None

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(record)

    def _issue_token(self, client_id: str, audience: str) -> tuple[str, float]:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = _Token(client_id, audience, time.time() + self._config.expires_in)
            self._issued.append(token)
            return token, self._config.expires_in

    def _check_token(self, token: str, revoke: bool) -> None:
        with self._lock:
            info = self._tokens.get(token)
            if info is not None and revoke:
                info.revoked = True
        if info is None:
            raise _Answer(401, "INVALID_TOKEN", "Authorization token is not valid",
                          {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if info.revoked or info.expires_at <= time.time():
            raise _Answer(401, "EXPIRED_TOKEN", "Authorization token has expired",
                          {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if info.audience != self.audience:
            raise _Answer(403, "FORBIDDEN", f"Token audience {info.audience} gives no access to {self.audience}")

    def _page(self, params: dict[str, str]) -> tuple[list[ChangeEvent], str, str | None]:
        """The events of one request, its ``Next`` and its ``Link`` (None on the last page)."""
        with self._lock:
            config = replace(self._config)
            events = list(self._events)
        now = datetime.now(UTC) + timedelta(seconds=config.clock_offset)
        subscription = params.get("subscription")
        if not subscription:
            raise _Answer(400, "MISSING_PARAMETER", "Mandatory parameter subscription is missing",
                          parameter="subscription")
        if subscription not in SUBSCRIPTIONS:
            raise _Answer(400, "INVALID_PARAMETER", f"Unknown subscription {subscription!r}", parameter="subscription")
        has_next, has_after = "next" in params, "after" in params
        if not has_next and not has_after:
            raise _Answer(400, "MISSING_PARAMETER", "One of the parameters next or after is mandatory",
                          parameter="next|after")
        if has_next and has_after:
            raise _Answer(400, "INVALID_PARAMETER", "Only one of the parameters next and after may be given",
                          parameter="next|after")
        raw_size = params.get("pagesize")
        if raw_size is None or raw_size == "":
            size = config.max_pagesize
        elif not raw_size.isdigit() or int(raw_size) < 1:
            raise _Answer(400, "INVALID_PARAMETER", f"pagesize must be a positive integer, not {raw_size!r}",
                          parameter="pagesize")
        else:
            size = min(int(raw_size), config.max_pagesize)
        max_age = timedelta(days=config.max_age_days)
        if has_next:
            position = self.read_cursor(params["next"])
            if position is None:
                raise _Answer(400, "INVALID_PARAMETER", "The next parameter is not a valid token", parameter="next")
            seq, at = position
            if now - at > max_age:
                raise _Answer(400, "PARAMETER_TOO_OLD",
                              f"The next parameter is older than {config.max_age_days:g} days", parameter="next")
            pending = [e for e in events if e.seq > seq]
            unchanged = params["next"]
        else:
            try:
                after = datetime.strptime(params["after"], AFTER_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                raise _Answer(400, "INVALID_PARAMETER", "The after parameter must have the format yyyyMMddHHmmss",
                              parameter="after") from None
            if now - after > max_age:
                raise _Answer(400, "PARAMETER_TOO_OLD",
                              f"The after parameter is older than {config.max_age_days:g} days", parameter="after")
            pending = [e for e in events if e.at > after]
            before = [e.seq for e in events if e.at <= after]
            unchanged = self.cursor_for(before[-1] if before else 0, after)
        page = pending[:size]
        if not page:
            return [], unchanged, None
        next_cursor = self.cursor_for(page[-1].seq, page[-1].at)
        link = None
        if len(pending) > size:
            query = {"subscription": subscription, "pagesize": str(size), "next": next_cursor,
                     "page": str(int(params.get("page") or 1) + 1)}
            link = f"<{self.export_url}?{urlencode(query)}>; rel=\"next\""
        return page, next_cursor, link


def _error_body(answer: _Answer, error_format: str) -> tuple[bytes, str]:
    if error_format == "text":
        return answer.message.encode(), "text/plain; charset=UTF-8"
    details = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in answer.details.items())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<errors><error><code>{answer.code}</code>'
            f"<message>{escape(answer.message)}</message>{details}</error></errors>\n")
    return body.encode(), "application/xml; charset=UTF-8"


def _make_handler(server: FakeBokbasenExport):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeBokbasenExport/1.0"
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            if server.verbose:
                sys.stderr.write(f"fake-bokbasen-export: {self.address_string()} {format % args}\n")

        def _server_date(self) -> str:
            return email.utils.formatdate(server.now().timestamp(), usegmt=True)

        def _send(self, status: int, body: bytes = b"", content_type: str | None = None,
                  headers: dict | None = None, cut: bool = False) -> None:
            try:
                self.send_response(status)
                self.send_header("Date", self._server_date())
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                if body:
                    self.send_header("Content-Type", content_type or "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
                self.wfile.flush()
            except OSError:
                self.close_connection = True
            if cut:
                self._drop()

        def send_response(self, code: int, message: str | None = None) -> None:
            # As BaseHTTPRequestHandler's, without its Date header: _send sends the server clock's.
            self.log_request(code)
            self.send_response_only(code, message)
            self.send_header("Server", self.version_string())

        def _drop(self) -> None:
            self.close_connection = True
            try:
                self.wfile.flush()
            except OSError:
                pass
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _json(self, status: int, body: Any) -> None:
            self._send(status, json.dumps(body, ensure_ascii=False).encode())

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == server.export_path:
                self._export(parts)
            elif parts.path == "/_admin/stats":
                self._json(200, server.stats())
            elif parts.path == "/_admin/requests":
                self._json(200, [r.public() for r in server.requests(None)])
            elif parts.path in ("/", "/_admin"):
                self._json(200, {"export_url": server.export_url, "token_url": server.token_url,
                                 "audience": server.audience})
            else:
                self._json(404, {"message": f"No such resource: {parts.path}"})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            if path == server.token_path:
                self._token()
            elif path.startswith("/_admin/"):
                self._admin(path)
            else:
                self._read_body()
                self._json(404, {"message": f"No such resource: {path}"})

        def _admin(self, path: str) -> None:
            raw = self._read_body()
            try:
                body = json.loads(raw) if raw.strip() else {}
                if path == "/_admin/faults":
                    added = server.add_faults(*(body if isinstance(body, list) else body.get("faults", [])))
                    self._json(200, {"added": [asdict(f) for f in added]})
                elif path == "/_admin/reset":
                    server.reset(tokens=bool(body.get("tokens")))
                    self._json(200, {"reset": True})
                elif path == "/_admin/config":
                    server.configure(**body)
                    self._json(200, server.stats()["config"])
                else:
                    self._json(404, {"message": f"No such admin resource: {path}"})
            except (ValueError, TypeError) as exc:
                self._json(400, {"message": str(exc)})

        def _token(self) -> None:
            raw = self._read_body()
            with server._lock:
                server._token_requests += 1
            record = RecordedRequest(time.time(), "POST", self.path, "token", {}, list(self.headers.items()))
            server._record(record)
            fault = server._take_fault("token")
            if fault is not None and self._apply_fault(fault, record):
                return
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if content_type == "application/x-www-form-urlencoded":
                params = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            else:
                try:
                    params = json.loads(raw or b"{}")
                except ValueError:
                    params = None
            if not isinstance(params, dict) or params.get("grant_type") != "client_credentials":
                record.status = 400
                return self._json(400, {"error": "invalid_request", "error_description": "grant_type must be "
                                        "client_credentials, in a JSON or form body"})
            if params.get("client_id") != server.client_id or params.get("client_secret") != server.client_secret:
                record.status = 401
                return self._json(401, {"error": "access_denied", "error_description": "Unauthorized"})
            if params.get("audience") != server.audience:
                record.status = 403
                return self._json(403, {"error": "access_denied", "error_description":
                                        f"Client is not authorized to access audience {params.get('audience')!r}"})
            token, expires_in = server._issue_token(params["client_id"], params["audience"])
            record.status = 200
            self._json(200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})

        def _apply_fault(self, fault: Fault, record: RecordedRequest) -> bool:
            """Apply a fault that answers by itself; True if the request is answered (or dropped)."""
            record.fault = fault.action if fault.action != "status" else f"status {fault.status}"
            if fault.action == "slow":
                time.sleep(fault.seconds)
                return False
            if fault.action == "drop":
                self._drop()
                return True
            if fault.action == "status":
                record.status = fault.status
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                code = "SYSTEM_ERROR" if (fault.status or 500) >= 500 else f"HTTP_{fault.status}"
                message = fault.message or ("An unexpected error occurred" if code == "SYSTEM_ERROR"
                                            else f"Scripted HTTP {fault.status}")
                body, content_type = _error_body(_Answer(fault.status or 500, code, message), "xml")
                self._send(fault.status or 500, body, content_type, headers)
                return True
            return False  # pass, cut, revoke, strip: handled on the way

        def _export(self, parts) -> None:
            params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            record = RecordedRequest(time.time(), "GET", self.path, "export", dict(params), list(self.headers.items()))
            server._record(record)
            fault = server._take_fault("export")
            if fault is not None and self._apply_fault(fault, record):
                return
            if fault is not None and fault.action == "strip" and fault.param:
                params.pop(fault.param, None)
            with server._lock:
                config = replace(server._config)
            try:
                self._check_headers(config, revoke=fault is not None and fault.action == "revoke")
                events, next_cursor, link = server._page(params)
            except _Answer as answer:
                record.status, record.note = answer.status, f"{answer.code}: {answer.message}"
                body, content_type = _error_body(answer, config.error_format)
                return self._send(answer.status, body, content_type, answer.headers)
            body = onix_message(events, server.now())
            headers = {"Next": next_cursor}
            if link:
                headers["Link"] = link
            cut = fault is not None and fault.action == "cut"
            html = fault is not None and fault.action == "html"
            record.status = None if cut else 200
            record.served = [] if cut or html else [e.record_reference for e in events]
            record.next_header, record.link_header = next_cursor, link
            if html:  # e.g. a captive portal or proxy answering for the service
                return self._send(200, b"<html><body><h1>Gateway</h1><p>Please log in</p></body></html>",
                                  "text/html; charset=UTF-8", headers)
            self._send(200, body, "application/xml; charset=UTF-8", headers, cut=cut)

        def _check_headers(self, config: _Config, revoke: bool) -> None:
            authorization = self.headers.get("Authorization")
            date_header = self.headers.get("Date")
            missing = [name for name, value in (("Authorization", authorization), ("Date", date_header)) if not value]
            if missing:
                raise _Answer(400, "MISSING_HEADER", f"Missing required header(s): {', '.join(missing)}")
            try:
                sent = email.utils.parsedate_to_datetime(date_header)
            except (TypeError, ValueError):
                sent = None
            if sent is None or sent.tzinfo is None or not date_header.rstrip().endswith("GMT"):
                raise _Answer(400, "INVALID_DATE", f"The Date header {date_header!r} is not a valid RFC 1123 date")
            skew = abs((server.now() - sent).total_seconds())
            if skew > config.max_date_skew:
                raise _Answer(400, "DATE_SKEW", f"The Date header is not within the boundary of "
                              f"{config.max_date_skew / 60:g} minutes skew from the server time")
            if not authorization.startswith("Bearer "):
                raise _Answer(401, "INVALID_AUTHORIZATION", "The Authorization header must use the Bearer prefix",
                              {"WWW-Authenticate": "Bearer"})
            server._check_token(authorization[len("Bearer "):].strip(), revoke)

    return Handler


# -- command line ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.fakes.bokbasen_export",
                                     description="Run a local fake of Bokbasen's Export Service (ONIX 3.0).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"0 = any free port (default {DEFAULT_PORT})")
    parser.add_argument("--client-id", default=DEMO_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEMO_CLIENT_SECRET)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--products", type=int, default=500, help="synthetic products in the feed (default 500)")
    source.add_argument("--lms-dsn", help="build the feed from this library system's catalogue (lms.manifestation)")
    parser.add_argument("--fault", action="append", default=[], help='scripted fault, e.g. "503" (repeatable)')
    parser.add_argument("--quiet", action="store_true", help="do not print one line per request")
    args = parser.parse_args(argv)
    products = products_from_lms(args.lms_dsn) if args.lms_dsn else synthetic_products(args.products)
    server = FakeBokbasenExport(args.host, args.port, client_id=args.client_id, client_secret=args.client_secret,
                                products=products, verbose=not args.quiet)
    server.add_faults(*args.fault)
    print(f"Fake Bokbasen Export Service on {server.base_url}: {len(server.events())} change events", flush=True)
    print(f"EXPORT_URL={server.export_url}", flush=True)
    print(f"TOKEN_URL={server.token_url}", flush=True)
    print(f"AUDIENCE={server.audience}", flush=True)
    server.serve_until_interrupted()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
