"""The night: one library's queued changes sent to the national patron registry, patron by patron.

Rules (design notes section 9, the library system's specification):

* **Consent first**: a patron without ``registry_consent`` is skipped: nothing about them is
  sent or fetched; the queued change waits (consent may come later).
* ``new``: look the patron up by national id first. Found: take the registry's national card
  number and/or PIN (as the library syncs them) and add this library's relation (``endre``
  with the library's contact values). Not found: give the patron the next number of the
  library's *own* national series when it holds no national card (checked before it is
  issued; a used-up series fails that patron clearly) and create it (``nyPost``). A
  patron's local card is never sent; the national card is added beside it.
* ``edited``: update (``endre``) the patron holding the local national card; when the
  registry does not know that card (changed locally), find the patron by national id and
  update that record with the new card number; when the registry has no such patron, create.
* ``delete``: remove this library's relation only (``slett``); the patron stays in the
  registry for the other libraries.
* PINs: when the library syncs PINs, the queued (encrypted) PIN is sent; a patron who has no
  PIN gets a random default PIN, encrypted where it is drawn, marked ``pin_must_change``.
* One patron's failure (the registry's ``status`` false with its ``melding``, a rejected
  request, the registry unreachable after the retry budget) is stored in the queue's
  ``last_error`` and retried next night; the others go on. After
  ``max_transport_failures`` patrons in a row could not reach the registry the library's
  run stops (the rest stays queued) and the task fails, for Airflow to retry.

Crash safety: before a registry write the queue row is marked (``attempt_started_at``) in its
own transaction; the registry's answer, the patron's local changes (card, PIN) and the queue
status are stored in **one** transaction afterwards. A change is marked ``synced`` only if it
is still the change that was read (``changed_at`` unchanged), so an edit made during the run
is sent next night. A run killed between a write and its answer leaves the row marked: the
next run reads the registry first and, when the registry already holds what would be sent,
stores the answer without writing again, so a patron is not sent twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import psycopg

from library_integrations.clients.registry.errors import RegistryRejected, RegistryRetryableError
from library_integrations.clients.registry.interface import PatronRegistry
from library_integrations.clients.registry.models import Lookup, RegistryPatron, ReplyStatus, WriteReply
from library_integrations.clients.registry.privacy import scrub
from library_integrations.common.tables import format_table
from library_integrations.library_system import patrons as lms
from library_integrations.library_system.patrons import QueuedPatron, RegistryLibrary
from library_integrations.pipelines.patron_registry import mapping
from library_integrations.pipelines.patron_registry.payloads import PatronFailure, SyncResult

log = logging.getLogger(__name__)

#: Every outcome the export counts, in log order.
EXPORT_OUTCOMES = (
    "queued", "skipped_no_consent", "created", "linked", "updated", "relation_removed", "card_issued",
    "nothing_to_remove", "default_pin", "confirmed_after_interruption", "superseded", "failed",
)  # fmt: skip


class PatronFailed(Exception):
    """This patron cannot be synced now; the message (no personal data) is stored as ``last_error``."""


class LibraryAborted(Exception):
    """Too many patrons in a row could not reach the registry: the library's export stops."""


@dataclass(frozen=True)
class Done:
    """A patron's change accepted: what to count and what to store locally with ``synced``."""

    outcome: str
    server_time: str | None
    card: str | None = None  # national card to hold locally (registry's lnr when linking)
    pin: str | None = None  # encrypted PIN to store locally
    pin_must_change: bool = False

    def __repr__(self) -> str:
        return f"Done(outcome={self.outcome}, card={'yes' if self.card else 'no'}, pin={'yes' if self.pin else 'no'})"


@dataclass
class PinPlan:
    """Which PIN goes to the registry and which is stored locally (both encrypted)."""

    send: str | None = None
    store: str | None = None
    must_change: bool = False

    def __repr__(self) -> str:
        return f"PinPlan(send={self.send is not None}, store={self.store is not None}, must_change={self.must_change})"


class LibraryExport:
    """The night export of one library (see the module docstring)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        registry: PatronRegistry,
        library: RegistryLibrary,
        *,
        max_transport_failures: int = 3,
    ) -> None:
        if not conn.autocommit:
            raise ValueError("the export needs an autocommit connection (it commits one patron at a time)")
        self.conn = conn
        self.registry = registry
        self.library = library
        self.max_transport_failures = max_transport_failures
        self.counts: Counter[str] = Counter({k: 0 for k in EXPORT_OUTCOMES})
        self.failures: list[PatronFailure] = []

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> SyncResult:
        queue = lms.pending_changes(self.conn, self.library.agency_id)
        kinds = Counter(entry.status for entry in queue)
        in_doubt = sum(1 for entry in queue if entry.in_doubt)
        without_consent = sum(1 for entry in queue if not entry.consent)
        log.info(
            "Export to the national patron registry for %s: %d queued change(s) (new %d, edited %d, delete %d); "
            "%d without consent (stay local, not sent); %d in doubt after an interrupted run; card numbers %s, PINs %s",
            self.label, len(queue), kinds["new"], kinds["edited"], kinds["delete"], without_consent, in_doubt,
            "synced" if self.library.sync_card_number else "not synced", "synced" if self.library.sync_pin else "not synced",
        )
        self.counts["queued"] = len(queue)
        transport_failures_in_a_row = 0
        for entry in queue:
            if not entry.consent:
                self.counts["skipped_no_consent"] += 1
                continue
            state = {"in_doubt": entry.in_doubt}
            try:
                done = self._export(entry, state)
                self._finish(entry, done)
                transport_failures_in_a_row = 0
            except PatronFailed as exc:
                self._fail(entry, str(exc), in_doubt=state["in_doubt"])
            except RegistryRejected as exc:
                state["in_doubt"] = False
                self._fail(entry, self._scrub(entry, str(exc)), in_doubt=False)
            except RegistryRetryableError as exc:
                self._fail(entry, self._scrub(entry, str(exc)), in_doubt=state["in_doubt"])
                transport_failures_in_a_row += 1
                if transport_failures_in_a_row >= self.max_transport_failures:
                    self._log_result()
                    raise LibraryAborted(
                        f"{self.label}: the registry could not be reached for {transport_failures_in_a_row} patrons "
                        f"in a row; stopping this library's export. {self.counts['failed']} failed, the rest stays "
                        "queued for the next run."
                    ) from None
        self._log_result()
        return SyncResult(
            direction="export",
            isil=self.library.isil,
            label=self.label,
            counts=dict(self.counts),
            failures=self.failures,
            registry_requests=getattr(getattr(self.registry, "stats", None), "http_requests", 0),
        )

    @property
    def label(self) -> str:
        return f"{self.library.isil} {self.library.name}"

    def _log_result(self) -> None:
        rows = [{"outcome": k, "patrons": v} for k, v in self.counts.items()]
        log.info("Export result for %s:\n%s", self.label, format_table(rows))
        for failure in self.failures:
            log.warning(
                "%s: patron %d (%s) not synced (failed %d night(s) in a row): %s",
                self.library.isil, failure.patron_id, failure.change, failure.failed_nights, failure.message,
            )

    def _scrub(self, entry: QueuedPatron, text: str) -> str:
        return scrub(text, *entry.personal_values()) or ""

    def _fail(self, entry: QueuedPatron, message: str, *, in_doubt: bool) -> None:
        with self.conn.transaction():
            nights = lms.record_failed(self.conn, entry.patron_id, message, in_doubt=in_doubt)
        self.counts["failed"] += 1
        self.failures.append(PatronFailure(entry.patron_id, entry.status, message, nights))

    def _mark_attempt(self, entry: QueuedPatron, state: dict) -> None:
        with self.conn.transaction():
            lms.mark_attempt(self.conn, entry.patron_id)
        state["in_doubt"] = True

    def _finish(self, entry: QueuedPatron, done: Done) -> None:
        """Store the accepted change: the patron's card and PIN and the queue status, in one transaction."""
        with self.conn.transaction():
            if done.card is not None:
                try:
                    lms.add_national_card(self.conn, entry.patron_id, self.library.agency_id, done.card)
                except lms.CardIssueError as exc:
                    raise PatronFailed(f"the registry's card could not be stored locally: {exc}") from None
            if done.pin is not None:
                lms.set_pin(self.conn, entry.patron_id, done.pin, must_change=done.pin_must_change)
            status = lms.record_synced(self.conn, entry.patron_id, entry.changed_at, done.server_time)
        self.counts[done.outcome] += 1
        if done.pin is not None and done.pin_must_change:
            self.counts["default_pin"] += 1
        if status != "synced":
            self.counts["superseded"] += 1  # changed again during the run: sent again next night
        log.debug("%s: patron %d %s", self.library.isil, entry.patron_id, done.outcome)

    # -- one patron -------------------------------------------------------------------------

    def _export(self, entry: QueuedPatron, state: dict) -> Done:
        if entry.status == "delete":
            return self._delete(entry, state)
        card = mapping.national_card(entry.cards)
        if entry.status == "edited" and card is not None:
            return self._update(entry, card.card_number, state)
        return self._new(entry, state)

    def _require_national_id(self, entry: QueuedPatron) -> str:
        if not mapping.valid_national_id(entry.national_id):
            raise PatronFailed(
                "the patron has no valid national id (fødselsnummer or D-nummer): it cannot be looked up or created; "
                "correct it in the library system"
            )
        return entry.national_id

    def _pin_plan(self, entry: QueuedPatron, remote_pin: str | None) -> PinPlan:
        if self.library.sync_pin:
            if remote_pin:
                return PinPlan(store=remote_pin)  # found in the registry: take its PIN
            if entry.pin:
                return PinPlan(send=entry.pin, store=entry.pin if entry.pin != entry.pin_encrypted else None)
            default = self.registry.new_default_pin()
            return PinPlan(send=default, store=default, must_change=True)
        if entry.pin_encrypted:
            return PinPlan()
        return PinPlan(store=self.registry.new_default_pin(), must_change=True)  # a local default, not sent

    def _refused(self, operation: str, reply: WriteReply) -> PatronFailed:
        return PatronFailed(f"the registry refused {operation}: {reply.message or '(no melding)'}")

    def _new(self, entry: QueuedPatron, state: dict) -> Done:
        national_id = self._require_national_id(entry)
        lookup = self.registry.search(national_id)
        if lookup.status is ReplyStatus.REFUSED:
            raise PatronFailed(f"the registry refused the lookup: {lookup.message or '(no melding)'}")
        if lookup.found:
            return self._link(entry, lookup, state)
        return self._create(entry, state)

    def _link(self, entry: QueuedPatron, lookup: Lookup, state: dict) -> Done:
        """The patron is in the registry already: take its card and/or PIN, add this library's relation."""
        remote = lookup.patron
        if not remote.lnr:
            raise PatronFailed("the registry's record of the patron has no card number; retried next night")
        pins = self._pin_plan(entry, remote.pin)
        if state["in_doubt"] and remote.pin and not entry.pin:
            pins.must_change = True  # most likely the default PIN an interrupted run sent
        post = RegistryPatron({**mapping.contact_post(entry, skip_empty=True), **({"pin": pins.send} if pins.send else {})})
        card = remote.lnr if self.library.sync_card_number else None
        if state["in_doubt"] and mapping.already_holds(remote, post):
            return Done("confirmed_after_interruption", lookup.server_time, card, pins.store, pins.must_change)
        self._mark_attempt(entry, state)
        reply = self.registry.update(remote.lnr, post)
        if not reply.ok:
            state["in_doubt"] = False
            raise self._refused("adding this library to the patron (endre)", reply)
        return Done("linked", reply.server_time, card, pins.store, pins.must_change)

    def _create(self, entry: QueuedPatron, state: dict) -> Done:
        if not entry.name:
            raise PatronFailed("the patron has no name; the registry requires one to create a patron")
        card = mapping.national_card(entry.cards)
        if card is not None:
            number = card.card_number
            self._mark_attempt(entry, state)
        else:
            try:
                with self.conn.transaction():
                    issued = lms.issue_national_card(
                        self.conn, self.library.agency_id, entry.patron_id, self.registry.check_card_number
                    )
                    lms.mark_attempt(self.conn, entry.patron_id)
            except lms.CardIssueError as exc:
                raise PatronFailed(f"no national card number could be issued: {exc}") from None
            state["in_doubt"] = True
            number = issued.card_number
            self.counts["card_issued"] += 1
        pins = self._pin_plan(entry, None)
        reply = self.registry.create(mapping.create_post(entry, number, pins.send))
        if not reply.ok:
            state["in_doubt"] = False
            raise self._refused("creating the patron (nyPost)", reply)
        return Done("created", reply.server_time, None, pins.store, pins.must_change)

    def _update(self, entry: QueuedPatron, card_number: str, state: dict) -> Done:
        fields: dict[str, str | None] = dict(mapping.contact_post(entry))
        if self.library.sync_pin and entry.pin:
            fields["pin"] = entry.pin
        post = RegistryPatron(fields)
        if state["in_doubt"]:
            lookup = self.registry.search(card_number)
            if lookup.found and mapping.already_holds(lookup.patron, post):
                return Done("confirmed_after_interruption", lookup.server_time)
        self._mark_attempt(entry, state)
        reply = self.registry.update(card_number, post)
        if reply.status is ReplyStatus.NO_MATCH:
            # The registry does not know the local national card: changed locally, or the
            # registry's card was replaced. Find the patron by national id.
            national_id = self._require_national_id(entry)
            lookup = self.registry.search(national_id)
            if lookup.status is ReplyStatus.REFUSED:
                raise PatronFailed(f"the registry refused the lookup: {lookup.message or '(no melding)'}")
            if not lookup.found:
                return self._create(entry, state)
            if self.library.sync_card_number:
                post = post.with_values(lnr=card_number)  # the local card number overwrites the registry's
            reply = self.registry.update(lookup.patron.lnr, post)
            if reply.ok and not self.library.sync_card_number:
                return Done("updated", reply.server_time)
        if not reply.ok:
            state["in_doubt"] = False
            raise self._refused("updating the patron (endre)", reply)
        return Done("updated", reply.server_time)

    def _delete(self, entry: QueuedPatron, state: dict) -> Done:
        card = mapping.national_card(entry.cards, include_inactive=True)
        number = card.card_number if card is not None else None
        if number is None:
            if not mapping.valid_national_id(entry.national_id):
                return Done("nothing_to_remove", None)  # never in the registry under this library
            lookup = self.registry.search(entry.national_id)
            if not lookup.found:
                return Done("nothing_to_remove", lookup.server_time)
            number = lookup.patron.lnr
        self._mark_attempt(entry, state)
        reply = self.registry.remove_relation(number)
        if reply.status is ReplyStatus.REFUSED:
            state["in_doubt"] = False
            raise self._refused("removing this library's relation (slett)", reply)
        return Done("relation_removed", reply.server_time)  # ok, or "ingen treff": nothing left to remove


def run_export(
    conn: psycopg.Connection,
    registry: PatronRegistry,
    library: RegistryLibrary,
    *,
    max_transport_failures: int = 3,
) -> SyncResult:
    """Send one library's queue (``conn`` in autocommit; each patron commits on its own)."""
    return LibraryExport(conn, registry, library, max_transport_failures=max_transport_failures).run()
