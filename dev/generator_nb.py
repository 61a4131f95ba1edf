"""Synthetic data for the NB monthly statistics, on top of what :mod:`dev.generator` made.

:func:`fill` sets the columns that ``dev/sql/lms/003_nb_statistics.sql`` adds, for the
agencies, manifestations and patrons already in ``lms``, and replaces the consent table:

- ``manifestation.shelf_word``: the ordningsord as a Norwegian library catalogues it, the
  first three letters of the main entry (``Ham`` for "Hamsun, Knut", the title when there
  is no author), sometimes in capitals, with a stray space, or missing;
- ``manifestation.fiction``: skjønn/fag by material (books and audiobooks about 55 %
  fiction, scores and serials non-fiction, films mostly fiction), some not catalogued;
- ``manifestation.audience``: about a third for children, some written sloppily
  (``children``, `` ADULT ``), some missing;
- ``patron.category``: codes of a Bibliofil/Quria-like system by patron kind and age (``V``,
  ``B``, ``PENS``, ``STUD``, ``BIB``, ``INST``, ``SKOLE``, ...), sloppy forms (`` v ``), null,
  and codes the NB mapping does not know (``U`` ungdom, ``FJERN``, ``GJEST``, ``ORG``, ``X1``);
- ``nb_statistics_consent``: the first agencies cover every case in a fixed order (both
  consents, no publication consent, no delivery consent, no row at all, neither), the rest
  mostly consent.

Deterministic: one NumPy generator seeded by ``seed``, rows read in id order, so the same
base data and seed give the same values. It draws from its own generator, so calling it
does not change what the base generator makes.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv

log = logging.getLogger(__name__)

REFERENCE_DAY = date(2026, 3, 1)  # ages (child or adult) are judged on this day

BOOKLIKE = {"BOOK", "LARGE_PRINT", "AUDIOBOOK_CD", "AUDIOBOOK_CASSETTE", "AUDIOBOOK_DAISY", "AUDIOBOOK_ONLINE",
            "EBOOK", "MANUSCRIPT"}
FILMS_AND_GAMES = {"DVD", "BLURAY", "VIDEO_GAME", "BOARD_GAME"}

# Borrower category codes by kind of patron: (code, weight). None = no category.
ADULT_CODES = [("V", 0.62), ("VOKSEN", 0.04), ("PENS", 0.08), ("STUD", 0.06), ("ANS", 0.02), (" v ", 0.02),
               (None, 0.09), ("FJERN", 0.03), ("GJEST", 0.02), ("X1", 0.02)]
CHILD_CODES = [("B", 0.66), ("BARN", 0.05), ("b", 0.02), ("U", 0.12), (None, 0.12), ("KLASSE", 0.03)]
KIND_CODES = {
    "LIBRARY": [("BIB", 0.8), ("FJL", 0.1), (None, 0.1)],
    "INSTITUTION": [("INST", 0.6), ("SKOLE", 0.2), ("BHG", 0.1), (None, 0.1)],
    "ORGANISATION": [("ORG", 0.5), ("INST", 0.2), (None, 0.3)],
}
# Consent cases of the first agencies, in this order; the rest draw from CONSENT_MIX.
CONSENT_CASES = ["both", "both", "no_publication_consent", "no_delivery_consent", "no_consent_row", "both",
                 "neither"]
CONSENT_MIX = [("both", 0.75), ("no_publication_consent", 0.08), ("no_delivery_consent", 0.07),
               ("no_consent_row", 0.07), ("neither", 0.03)]
DECIDED_BY = ["biblioteksjef", "kultursjef", "rådmann (delegert)", "avdelingsleder formidling"]


@dataclass
class NbGenerationSummary:
    seed: int
    manifestations: int = 0
    patrons: int = 0
    agencies: int = 0
    fiction: dict = field(default_factory=dict)
    audience: dict = field(default_factory=dict)
    shelf_words: dict = field(default_factory=dict)
    categories: dict = field(default_factory=dict)
    consent_cases: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _draw(rng: np.random.Generator, options: list[tuple[str | None, float]], n: int) -> list[str | None]:
    values = [v for v, _ in options]
    p = np.array([w for _, w in options])
    return [values[i] for i in rng.choice(len(values), size=n, p=p / p.sum())]


def _shelf_word(rng: np.random.Generator, author: str | None, title: str | None) -> tuple[str | None, str]:
    source = (author or "").split(",")[0].strip() or (title or "").strip()
    letters = "".join(ch for ch in source if ch.isalpha())
    if not letters or rng.random() < 0.06:
        return None, "missing"
    word = letters[:3].capitalize()
    roll = rng.random()
    if roll < 0.05:
        return word.upper(), "capitals"
    if roll < 0.08:
        return word + " ", "trailing_space"
    return word, "three_letters"


def _copy(conn: psycopg.Connection, table: str, data: pa.Table) -> None:
    buf = io.BytesIO()
    pa_csv.write_csv(data, buf, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(data.column_names)}) FROM STDIN WITH (FORMAT csv)") as copy:  # noqa: S608
            copy.write(buf.getbuffer())


def fill(dsn: str, *, seed: int = 42) -> NbGenerationSummary:
    """Fill the NB columns and the consent table for the data already in ``lms``."""
    rng = np.random.default_rng([seed, 2004])
    summary = NbGenerationSummary(seed=seed)
    with psycopg.connect(dsn) as conn:
        manifestations = conn.execute(
            "SELECT id, material_type_code, authors[1], title FROM lms.manifestation ORDER BY id").fetchall()
        patrons = conn.execute("SELECT id, patron_kind, birth_date FROM lms.patron ORDER BY id").fetchall()
        agencies = [r[0] for r in conn.execute("SELECT id FROM lms.agency ORDER BY id").fetchall()]

        # ---------------------------------------------------------------- manifestations
        shelf, fiction, audience = [], [], []
        shelf_cases, fiction_counts, audience_counts = Counter(), Counter(), Counter()
        for _, code, author, title in manifestations:
            word, case = _shelf_word(rng, author, title)
            shelf.append(word)
            shelf_cases[case] += 1
            roll = rng.random()
            if code in BOOKLIKE:
                value = True if roll < 0.55 else (False if roll < 0.95 else None)
            elif code in FILMS_AND_GAMES:
                value = True if roll < 0.5 else (False if roll < 0.7 else None)
            else:  # serials, newspapers, scores, music, equipment
                value = False if roll < 0.6 else None
            fiction.append(value)
            fiction_counts[{True: "fiction", False: "non_fiction", None: "missing"}[value]] += 1
            roll = rng.random()
            if roll < 0.30:
                aud = "CHILDREN"
            elif roll < 0.95:
                aud = "ADULT"
            elif roll < 0.97:
                aud = None
            else:
                aud = str(rng.choice(["children", " ADULT ", "ungdom"]))
            audience.append(aud)
            audience_counts[aud if aud in ("CHILDREN", "ADULT") else ("missing" if aud is None else "other")] += 1
        conn.execute("CREATE TEMP TABLE nb_gen_manifestation (id bigint, shelf_word text, fiction boolean, "
                     "audience text) ON COMMIT DROP")
        _copy(conn, "nb_gen_manifestation", pa.table({
            "id": pa.array([m[0] for m in manifestations], pa.int64()),
            "shelf_word": pa.array(shelf, pa.string()),
            "fiction": pa.array(fiction, pa.bool_()),
            "audience": pa.array(audience, pa.string()),
        }))
        conn.execute("UPDATE lms.manifestation m SET shelf_word = g.shelf_word, fiction = g.fiction, "
                     "audience = g.audience FROM nb_gen_manifestation g WHERE g.id = m.id")

        # ---------------------------------------------------------------- patrons
        categories: list[str | None] = []
        category_counts = Counter()
        adult_codes = _draw(rng, ADULT_CODES, len(patrons))
        child_codes = _draw(rng, CHILD_CODES, len(patrons))
        kind_codes = {kind: _draw(rng, options, len(patrons)) for kind, options in KIND_CODES.items()}
        for i, (_, kind, born) in enumerate(patrons):
            if kind in kind_codes:
                code = kind_codes[kind][i]
            elif born is not None and born > REFERENCE_DAY.replace(year=REFERENCE_DAY.year - 15):
                code = child_codes[i]
            else:
                code = adult_codes[i]
            categories.append(code)
            category_counts[code if code is not None else "(null)"] += 1
        conn.execute("CREATE TEMP TABLE nb_gen_patron (id bigint, category text) ON COMMIT DROP")
        _copy(conn, "nb_gen_patron", pa.table({
            "id": pa.array([p[0] for p in patrons], pa.int64()),
            "category": pa.array(categories, pa.string()),
        }))
        conn.execute("UPDATE lms.patron p SET category = g.category FROM nb_gen_patron g WHERE g.id = p.id")

        # ---------------------------------------------------------------- consent
        conn.execute("DELETE FROM lms.nb_statistics_consent")
        mix = _draw(rng, CONSENT_MIX, len(agencies))
        consent_counts = Counter()
        rows = []
        for i, agency_id in enumerate(agencies):
            case = CONSENT_CASES[i] if i < len(CONSENT_CASES) else mix[i]
            consent_counts[case] += 1
            if case == "no_consent_row":
                continue
            decided = datetime(2025, 9, 1, 9, 0, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 150)))
            rows.append([agency_id, case in ("both", "no_publication_consent"),
                         case in ("both", "no_delivery_consent"), decided, DECIDED_BY[i % len(DECIDED_BY)]])
        with conn.cursor() as cur:
            with cur.copy("COPY lms.nb_statistics_consent (agency_id, delivery_consent, publication_consent, "
                          "decided_at, decided_by) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.execute("ANALYZE lms.manifestation")
        conn.execute("ANALYZE lms.patron")

    summary.manifestations = len(manifestations)
    summary.patrons = len(patrons)
    summary.agencies = len(agencies)
    summary.fiction = dict(fiction_counts)
    summary.audience = dict(audience_counts)
    summary.shelf_words = dict(shelf_cases)
    summary.categories = dict(category_counts)
    summary.consent_cases = dict(consent_counts)
    log.info("NB additions: %s", summary.to_dict())
    return summary
