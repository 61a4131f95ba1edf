"""The SOAP client against the fake registry over HTTP on 127.0.0.1 (no database needed).

Credentials as the registry derives them, the typed per-patron answers, paging, the shared
retry policy for transport faults, PIN encryption and the card-number check; and that no
answer, error or repr carries personal data.
"""

from __future__ import annotations

import pytest
from stdnum.no import fodselsnummer

from library_integrations.clients.registry.cards import NumberSeries
from library_integrations.clients.registry.config import derive_credentials, resolve_config
from library_integrations.clients.registry.errors import (
    RegistryAuthError,
    RegistryConfigError,
    RegistryRejected,
    RegistryRetryableError,
)
from library_integrations.clients.registry.models import RegistryPatron, ReplyStatus
from library_integrations.clients.registry.pin import PinCipher
from library_integrations.clients.registry.soap import SoapPatronRegistry
from tests.fixtures.patron_registry import registry_connection

FNR = "01010050053"  # valid (python-stdnum), synthetic
OTHER_FNR = "17054026641"
LIBRARY = "2000001"
OTHER_LIBRARY = "2999999"


def test_the_synthetic_ids_are_valid_national_ids():
    assert fodselsnummer.is_valid(FNR) and fodselsnummer.is_valid(OTHER_FNR)


def test_basic_auth_is_derived_per_library_and_checked_by_the_registry(patron_registry, registry_client):
    client = registry_client("NO-2000001")
    username, password = derive_credentials(patron_registry.vendor_code, patron_registry.vendor_secret, LIBRARY,
                                            patron_registry.auth_code(LIBRARY))
    assert (client.config.username, client.config.password) == (username, password)
    assert client.search(FNR).status is ReplyStatus.NO_MATCH  # the fake accepted the credentials
    conn = registry_connection(patron_registry, ["NO-2000001"])
    conn["extra"]["libraries"]["NO-2000001"]["auth_code"] = "yesterdays-code"
    stale = SoapPatronRegistry(resolve_config(isil="NO-2000001", host=conn["host"], login=conn["login"],
                                              password=conn["password"], extra=conn["extra"]))
    with pytest.raises(RegistryAuthError) as refused:
        stale.search(FNR)
    assert "demolms-2000001" in str(refused.value) and stale.config.password not in str(refused.value)
    assert refused.value.attempts == 1  # a refused credential is not retried


def test_a_library_without_an_auth_code_is_a_clear_configuration_error(patron_registry):
    conn = registry_connection(patron_registry, ["NO-2000001"])
    with pytest.raises(RegistryConfigError, match=r"no auth code for NO-2000002.*libraries\['NO-2000002'\]"):
        resolve_config(isil="NO-2000002", host=conn["host"], login=conn["login"], password=conn["password"],
                       extra=conn["extra"])
    with pytest.raises(RegistryConfigError, match="not NO- followed by the 7-digit library number"):
        resolve_config(isil="NO-123", host=conn["host"], login="v", password="s", extra=conn["extra"])


def test_create_search_update_and_relations(patron_registry, registry_client):
    patron_registry.add_person(FNR, navn="Nordmann, Kari Marie", fdato="2000-01-01", kjonn="K")
    ours, theirs = registry_client("NO-2000001"), registry_client("NO-2999999")
    pin = ours.new_default_pin()
    created = ours.create(RegistryPatron.of(lnr="N001000001", fnr_hash=FNR, navn="Nordmann, Kari", epost="a@b.no",
                                            pin=pin))
    assert created.ok and created.server_time
    found = theirs.search("N001000001")
    assert found.found and found.patron.fnr == FNR
    assert found.patron.get("navn") == "Nordmann, Kari Marie"  # the population register wins over what was sent
    assert found.patron.pin == pin and PinCipher.from_setting(patron_registry.pin_key).is_valid(found.patron.pin)
    assert theirs.update("N001000001", RegistryPatron.of(epost="ny@b.no")).ok  # adds their relation
    assert patron_registry.patron(FNR)["relations"] == [LIBRARY, OTHER_LIBRARY]
    assert ours.remove_relation("N001000001").ok
    assert patron_registry.patron(FNR)["relations"] == [OTHER_LIBRARY]  # only our relation went
    again = ours.create(RegistryPatron.of(lnr="N001000002", fnr_hash=FNR, navn="X"))
    assert again.status is ReplyStatus.REFUSED and "finnes allerede" in again.message
    assert ours.update("N001999999", RegistryPatron.of(epost="x@y.no")).status is ReplyStatus.NO_MATCH


def test_a_pin_not_encrypted_with_the_vendor_key_is_refused(patron_registry, registry_client):
    client = registry_client()
    reply = client.create(RegistryPatron.of(lnr="N001000003", fnr_hash=FNR, navn="Nordmann, Kari", pin="1234"))
    assert reply.status is ReplyStatus.REFUSED and "PIN" in reply.message
    assert patron_registry.patron(FNR) is None


def test_changes_since_pages_by_neste_indeks_and_knows_its_own_changes(patron_registry, registry_client):
    since = patron_registry.now()
    for i in range(7):
        patron_registry.add_patron(f"0101005{i:04d}", f"N00100010{i}", libraries=[LIBRARY, OTHER_LIBRARY],
                                   by=OTHER_LIBRARY if i % 2 else LIBRARY)
        patron_registry.advance(1)
    patron_registry.add_patron(OTHER_FNR, "N999000001", libraries=[OTHER_LIBRARY])  # not ours: not listed
    client = registry_client()
    pages, start = [], 1
    while True:
        page = client.changes_since(since, start_index=start, max_count=3)
        pages.append(page)
        if not page.next_index:
            break
        start = page.next_index
    assert [len(p.records) for p in pages] == [3, 3, 1]
    assert [p.next_index for p in pages] == [4, 7, 0] and {p.total for p in pages} == {7}
    records = [r for p in pages for r in p.records]
    assert [r.changed_at for r in records] == sorted(r.changed_at for r in records)
    assert [client.is_own_change(r) for r in records] == [True, False, True, False, True, False, True]


def test_transport_faults_are_retried_with_the_shared_policy(patron_registry, registry_client):
    client = registry_client()
    patron_registry.add_faults("503", "drop")
    assert client.search(FNR).status is ReplyStatus.NO_MATCH  # third attempt answered
    assert client.stats.http_requests == 3 and client.stats.retried == 2
    patron_registry.add_faults({"action": "status", "status": 500, "repeat": -1, "melding": f"lost {FNR}"})
    with pytest.raises(RegistryRetryableError) as gave_up:
        client.search(FNR)
    patron_registry.clear_faults()
    assert gave_up.value.attempts == 3 and FNR not in str(gave_up.value)


def test_a_soap_client_fault_is_rejected_at_once_without_personal_data(patron_registry, registry_client):
    client = registry_client()
    patron_registry.add_faults({"action": "client_fault", "melding": f"Ugyldig identifikator {FNR}"})
    with pytest.raises(RegistryRejected) as rejected:
        client.search(FNR)
    assert rejected.value.attempts == 1
    assert "Ugyldig identifikator ***" in str(rejected.value) and FNR not in str(rejected.value)


def test_a_refusal_is_a_typed_answer_with_the_registrys_scrubbed_message(patron_registry, registry_client):
    client = registry_client()
    patron_registry.add_faults({"action": "refuse", "operation": "nyPost", "match": FNR,
                                "melding": f"Kan ikke opprette {FNR}: adresse mangler"})
    reply = client.create(RegistryPatron.of(lnr="N001000004", fnr_hash=FNR, navn="Nordmann, Kari"))
    assert reply.status is ReplyStatus.REFUSED
    assert reply.message == "Kan ikke opprette ***: adresse mangler"
    assert patron_registry.patron(FNR) is None  # refused before anything changed


def test_card_numbers_are_checked_before_they_are_issued(patron_registry, registry_client):
    patron_registry.add_patron(OTHER_FNR, "N001000100", libraries=[OTHER_LIBRARY])
    client = registry_client()
    assert client.check_card_number("N001000101").allowed
    in_use = client.check_card_number("N001000100")
    assert not in_use.allowed and in_use.in_use
    assert not client.check_card_number("03020000123").allowed  # a local number is never a national card
    conn = registry_connection(patron_registry, ["NO-2000001"])
    conn["extra"]["libraries"]["NO-2000001"]["reserved_series"] = ["N001000000-N001099999"]
    reserved = SoapPatronRegistry(resolve_config(isil="NO-2000001", host=conn["host"], login=conn["login"],
                                                 password=conn["password"], extra=conn["extra"]))
    assert reserved.config.reserved_series == (NumberSeries("N001000000", "N001099999"),)
    outside = reserved.check_card_number("N002000001")
    assert not outside.allowed and "outside the series reserved for NO-2000001" in outside.reason
    assert reserved.check_card_number("N001000102").allowed


def test_nothing_personal_in_reprs(registry_client):
    client = registry_client()
    patron = RegistryPatron.of(lnr="N001000001", fnr_hash=FNR, navn="Nordmann, Kari", pin="ABCDEF0123456789")
    text = repr(patron) + repr(client) + repr(client.config) + repr(client.config.pin)
    for value in ("N001000001", FNR, "Nordmann", "ABCDEF0123456789", client.config.password):
        assert value not in text
