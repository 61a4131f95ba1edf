"""Synthetic national-patron-registry data on top of :mod:`dev.generator`'s library system.

Run after :func:`dev.generator.generate` (it fills ``lms.agency`` and ``lms.patron``):
:func:`generate_registry` gives every person a valid national id (fødselsnummer built by
python-stdnum's rules, consistent with the generated birth date and gender; a few D-numbers),
a name, an address, contact details and a local library card, and fills the registry
tables: per-library settings, national and local card-number series (one near
exhaustion), consent (given and not), national cards, and the change queue with rows of
every status. It also describes the registry's side (:attr:`RegistryData.registry_seed`
and :attr:`RegistryData.population`), for a fake registry to start from.

Deterministic: the same seed and the same library system give the same rows. The cases
are at fixed positions, listed per library in :attr:`RegistryData.cases` by the internal
patron id, so tests and the demo know which patron plays which part.

Library setup (agency ids from :func:`dev.generator.generate`):

==========  =======================================================================
agency 1    enabled; syncs card numbers and PINs; a roomy national series
agency 2    enabled; syncs card numbers, not PINs; its national series has 2 numbers
            left while 6 new patrons need one (series near exhaustion)
agency 3    registry sync disabled
others      no registry settings
==========  =======================================================================
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from stdnum.no import fodselsnummer

from dev.fakes.patron_registry import DEMO_PIN_KEY
from library_integrations.clients.registry.pin import PinCipher

OTHER_LIBRARY = "2999999"  # a library of another library system, in the fake registry
OTHER_SERIES_FIRST = 900_000_000  # its national numbers: N900000000...
STREETS = ["Storgata", "Kirkegata", "Fjellveien", "Sjøgata", "Bjørkeveien", "Čuovvageaidnu", "Åsveien",
           "Ørnevegen", "Kongens gate", "Nordre gate"]
PLACES = [("0150", "OSLO"), ("0557", "OSLO"), ("5003", "BERGEN"), ("7011", "TRONDHEIM"), ("9008", "TROMSØ"),
          ("9730", "KARASJOK"), ("9520", "KAUTOKEINO"), ("4006", "STAVANGER")]
SURNAMES = ["Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen",
            "Karlsen", "Haugen", "Bakken", "Solberg", "Gaup", "Sara", "Hætta", "Eira", "Østby", "Åsheim",
            "Næss", "Lunde", "Moen", "Strand", "Dahl"]
GIVEN = {"M": ["Ola", "Per", "Jon", "Lars", "Nils", "Ánte", "Mikkel", "Ivar", "Øystein", "Aslak"],
         "F": ["Kari", "Ingrid", "Anne", "Siri", "Máret", "Elle", "Sigrid", "Åse", "Synnøve", "Ragnhild"]}
# The parts every enabled library's queue plays, in order (patron ids are assigned per library).
CASES = ("new_found_in_registry", "new_not_found", "new_local_card_only", "new_with_queued_pin",
         "new_without_consent", "edited", "edited_without_consent", "delete", "synced", "invalid_national_id",
         "not_queued")  # fmt: skip
CASE_COUNTS = {"new_found_in_registry": 2, "new_not_found": 3, "new_local_card_only": 2, "new_with_queued_pin": 1,
               "new_without_consent": 2, "edited": 3, "edited_without_consent": 1, "delete": 2, "synced": 3,
               "invalid_national_id": 1, "not_queued": 4}


@dataclass(frozen=True)
class SeedPatron:
    """A patron the registry holds before the first night (test data: it carries personal data)."""

    fnr: str
    lnr: str
    libraries: list[str]
    fields: dict[str, str | None]

    def __repr__(self) -> str:
        return f"SeedPatron(libraries={self.libraries})"


@dataclass
class RegistryData:
    seed: int
    persons: int = 0
    consenting: int = 0
    cards: dict[str, int] = field(default_factory=dict)
    queue: dict[str, int] = field(default_factory=dict)
    series: dict[int, dict[str, str]] = field(default_factory=dict)
    cases: dict[int, dict[str, list[int]]] = field(default_factory=dict)  # agency -> case -> patron ids
    registry_seed: list[SeedPatron] = field(default_factory=list)
    population: dict[str, dict[str, str | None]] = field(default_factory=dict)  # fnr -> register fields
    d_numbers: int = 0

    def case(self, agency_id: int, name: str) -> list[int]:
        return self.cases[agency_id][name]


def national_id(rng: random.Random, born: date, gender: str | None, *, d_number: bool = False) -> str:
    """A valid fødselsnummer (or D-nummer) for ``born``: individual digits in the range of the
    birth century, the 9th digit odd for men and even for women, both check digits by stdnum."""
    year = born.year
    if 1900 <= year <= 1999:
        low, high = (0, 499) if rng.random() < 0.8 or year < 1940 else (900, 999)
    elif 2000 <= year <= 2039:
        low, high = 500, 999
    elif 1854 <= year <= 1899:
        low, high = 500, 749
    else:
        raise ValueError(f"no national ids for birth year {year}")
    day = born.day + (40 if d_number else 0)
    for _ in range(200):
        individual = rng.randint(low, high)
        if gender in ("M", "F", "K") and (individual % 2 == 1) != (gender == "M"):
            individual += 1 if individual < high else -1
        body = f"{day:02d}{born.month:02d}{year % 100:02d}{individual:03d}"
        k1 = fodselsnummer.calc_check_digit1(body)
        if len(k1) != 1:
            continue
        k2 = fodselsnummer.calc_check_digit2(body + k1)
        if len(k2) != 1:
            continue
        number = body + k1 + k2
        if fodselsnummer.is_valid(number):
            return number
    raise RuntimeError("no valid national id found")  # pragma: no cover - 200 tries always suffice


def _person(rng: random.Random, born: date | None, gender: str | None, *, d_number: bool = False) -> dict:
    sex = "M" if (gender or "").strip().upper() == "M" else "F"
    if born is None or not 1900 <= born.year <= 2020:
        born = date(rng.randint(1945, 2012), rng.randint(1, 12), rng.randint(1, 28))
    surname, given = rng.choice(SURNAMES), rng.choice(GIVEN[sex])
    postal, city = rng.choice(PLACES)
    return {
        "national_id": national_id(rng, born, sex, d_number=d_number),
        "name": f"{surname}, {given}",
        "birth_date": born,
        "gender": sex if sex == "M" else "K",
        "address_line1": f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
        "address_line2": None if rng.random() < 0.85 else f"H0{rng.randint(1, 5)}0{rng.randint(1, 4)}",
        "postal_code": postal,
        "city": city,
        "country": "NO",
        "email": f"{given.lower()}.{surname.lower()}{rng.randint(1, 999)}@example.no",
        "phone": f"{rng.choice('49')}{rng.randint(0, 9_999_999):07d}",
        "_middle": rng.choice(["", " Marie", " Johan", " Sofie", " Andreas"]),
    }


def _local_card(agency_id: int, n: int) -> str:
    return f"03{agency_id:03d}{n:08d}"


def generate_registry(dsn: str, *, seed: int = 42, pin_key: str = DEMO_PIN_KEY,
                      now: datetime | None = None) -> RegistryData:
    """Fill the registry tables of the library system at ``dsn`` (see the module docstring)."""
    rng = random.Random(seed)
    cipher = PinCipher.from_setting(pin_key)
    now = now or datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    data = RegistryData(seed=seed)
    with psycopg.connect(dsn) as conn:
        conn.execute("TRUNCATE lms.patron_registry_queue, lms.library_card, lms.card_number_series, "
                     "lms.patron_registry_settings")
        agencies = [r[0] for r in conn.execute("SELECT id FROM lms.agency ORDER BY id")]
        persons = conn.execute("SELECT id, birth_date, gender FROM lms.patron WHERE patron_kind = 'PERSON' "
                               "ORDER BY id").fetchall()
        if len(agencies) < 3 or len(persons) < 2 * sum(CASE_COUNTS.values()) + 10:
            raise ValueError("generate_registry needs at least 3 agencies and enough persons: run dev.generator first")
        # Settings and series.
        settings = [(agencies[0], True, True, True), (agencies[1], True, True, False), (agencies[2], False, True, True)]
        conn.cursor().executemany(
            "INSERT INTO lms.patron_registry_settings (agency_id, enabled, sync_card_number, sync_pin) "
            "VALUES (%s, %s, %s, %s)", settings)
        series_rows = []
        for agency_id in agencies[:3]:
            first = f"N{agency_id:03d}000000"
            if agency_id == agencies[1]:  # the generated national cards use ...001 to ...009; 2 numbers left
                last, next_number = f"N{agency_id:03d}000011", f"N{agency_id:03d}000010"
            else:
                last, next_number = f"N{agency_id:03d}099999", f"N{agency_id:03d}000100"
            series_rows.append((agency_id, "NATIONAL", first, last, next_number))
            series_rows.append((agency_id, "LOCAL", _local_card(agency_id, 0), _local_card(agency_id, 99_999_999),
                                _local_card(agency_id, 10_000)))
            data.series[agency_id] = {"first": first, "last": last, "next": next_number}
        conn.cursor().executemany(
            "INSERT INTO lms.card_number_series (agency_id, kind, first_number, last_number, next_number) "
            "VALUES (%s, %s, %s, %s, %s)", series_rows)
        # Identity of every person; a few D-numbers.
        identities: dict[int, dict] = {}
        for i, (patron_id, born, gender) in enumerate(persons):
            identities[patron_id] = _person(rng, born, gender, d_number=(i % 37 == 36))
            data.d_numbers += i % 37 == 36
        data.persons = len(identities)
        # Cases, per enabled library, at fixed positions.
        pool = [pid for pid, *_ in persons]
        position = 0
        cards, queue, consent = [], [], {}
        national_numbers = {agencies[0]: 1, agencies[1]: 1}
        other_numbers = iter(range(OTHER_SERIES_FIRST, OTHER_SERIES_FIRST + 10_000))
        local_numbers = iter(range(1, 10_000))
        for agency_id in agencies[:2]:
            number = agency_id_number(agency_id)
            data.cases[agency_id] = {}
            for case in CASES:
                ids = pool[position: position + CASE_COUNTS[case]]
                position += CASE_COUNTS[case]
                data.cases[agency_id][case] = ids
                for patron_id in ids:
                    person = identities[patron_id]
                    if case == "invalid_national_id":
                        person["national_id"] = person["national_id"][:-1] + str((int(person["national_id"][-1]) + 1) % 10)
                    consent[patron_id] = case not in ("new_without_consent", "edited_without_consent")
                    if case != "new_not_found":
                        cards.append((_local_card(agency_id, next(local_numbers)), patron_id, agency_id, "LOCAL", True))
                    lnr = None
                    if case in ("edited", "edited_without_consent", "delete", "synced"):
                        lnr = f"N{agency_id:03d}{national_numbers[agency_id]:06d}"
                        national_numbers[agency_id] += 1
                        cards.append((lnr, patron_id, agency_id, "NATIONAL", True))
                        data.registry_seed.append(_seed(person, lnr, [number, OTHER_LIBRARY]))
                    if case == "new_found_in_registry":
                        lnr = f"N{next(other_numbers):09d}"
                        data.registry_seed.append(_seed(person, lnr, [OTHER_LIBRARY], pin=cipher.encrypt("4321")))
                    status = {"edited": "edited", "edited_without_consent": "edited", "delete": "delete",
                              "synced": "synced", "not_queued": None}.get(case, "new")
                    if case == "edited":
                        person["email"] = "changed." + person["email"]
                    if status is not None:
                        pin = cipher.encrypt(f"{rng.randint(0, 9999):04d}") if case == "new_with_queued_pin" else None
                        changed = now - timedelta(hours=rng.randint(1, 20), minutes=rng.randint(0, 59))
                        queue.append((patron_id, agency_id, status, pin, changed,
                                      "2026-11-01T01:00:00" if status in ("edited", "delete", "synced") else None))
        # Everyone else: some consent, local cards; the rest of the persons are not synced.
        for patron_id in pool[position:]:
            consent.setdefault(patron_id, rng.random() < 0.6)
        for person in identities.values():
            data.population[person["national_id"]] = {
                "navn": person["name"] + person["_middle"], "fdato": person["birth_date"].isoformat(),
                "kjonn": person["gender"], "p_adresse1": person["address_line1"], "p_adresse2": person["address_line2"],
                "p_postnr": person["postal_code"], "p_sted": person["city"], "p_land": "NO"}
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE lms.patron SET national_id = %s, name = %s, birth_date = %s, gender = %s, address_line1 = %s, "
                "address_line2 = %s, postal_code = %s, city = %s, country = %s, email = %s, phone = %s, "
                "registry_consent = %s, registry_consent_at = %s, pin_encrypted = NULL, pin_must_change = NULL "
                "WHERE id = %s",
                [(p["national_id"], p["name"], p["birth_date"], p["gender"], p["address_line1"], p["address_line2"],
                  p["postal_code"], p["city"], p["country"], p["email"], p["phone"], consent.get(pid, False),
                  now - timedelta(days=30) if consent.get(pid) else None, pid) for pid, p in identities.items()])
            cur.executemany(
                "INSERT INTO lms.library_card (card_number, patron_id, agency_id, kind, active) VALUES (%s, %s, %s, %s, %s)",
                cards)
            cur.executemany(
                "INSERT INTO lms.patron_registry_queue (patron_id, agency_id, status, encrypted_pin, changed_at, "
                "last_sync) VALUES (%s, %s, %s, %s, %s, %s)", queue)
        data.consenting = sum(1 for v in consent.values() if v)
        data.cards = {kind: sum(1 for c in cards if c[3] == kind) for kind in ("LOCAL", "NATIONAL")}
        data.queue = {s: sum(1 for q in queue if q[2] == s) for s in ("new", "edited", "delete", "synced")}
    return data


def agency_id_number(agency_id: int) -> str:
    """The 7-digit library number of a generated agency (its ISIL is ``NO-2`` + 6 digits)."""
    return f"2{agency_id:06d}"


def _seed(person: dict, lnr: str, libraries: list[str], pin: str | None = None) -> SeedPatron:
    fields = {"navn": person["name"], "epost": person["email"].removeprefix("changed."), "tlf_mobil": person["phone"]}
    if pin:
        fields["pin"] = pin
    return SeedPatron(person["national_id"], lnr, libraries, fields)


def seed_fake_registry(fake, data: RegistryData) -> None:
    """Load the registry's side into a :class:`dev.fakes.patron_registry.FakePatronRegistry`."""
    for fnr, fields in data.population.items():
        fake.add_person(fnr, **fields)
    for patron in data.registry_seed:
        fake.add_patron(patron.fnr, patron.lnr, libraries=patron.libraries, by=patron.libraries[-1], **patron.fields)
