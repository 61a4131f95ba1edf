"""The file-delivery ledger: identical content is not delivered again, changed content is a new version."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from library_integrations.state.deliveries import DeliveryLedger

MONTH = "2026-11"


@pytest.fixture()
def ledger(state_dsn):
    return DeliveryLedger(state_dsn)


@pytest.fixture()
def pipeline():
    return f"nb_statistics_{uuid.uuid4().hex[:8]}"


def file_name(version: int) -> str:
    return f"nb_utlan_{MONTH}.csv" if version == 1 else f"nb_utlan_{MONTH}_v{version}.csv"


class Target:
    """A receiver that records what it got; ``fail`` makes the next upload fail."""

    def __init__(self):
        self.received: list[tuple[str, str]] = []
        self.fail: Exception | None = None

    def upload(self, content: str):
        def upload(delivery):
            if self.fail:
                error, self.fail = self.fail, None
                raise error
            self.received.append((delivery.file_name, content))
            return [{"name": delivery.file_name, "bytes": len(content)}]

        return upload


def deliver(ledger, pipeline, target, content, **kwargs):
    return ledger.deliver(pipeline, MONTH, f"sha-{content}", target.upload(content), file_name=file_name,
                          row_count=len(content), target="sftp:nb_statistics_sftp", **kwargs)


def test_identical_content_is_not_delivered_again(ledger, pipeline):
    target = Target()
    first = deliver(ledger, pipeline, target, "A")
    assert (first.outcome, first.delivery.version, first.delivery.status, first.previous) == (
        "delivered", 1, "delivered", None)
    assert first.delivery.files == [{"name": "nb_utlan_2026-11.csv", "bytes": 1}]
    assert first.delivery.delivered_at is not None and first.delivery.attempts == 1
    again = deliver(ledger, pipeline, target, "A")
    assert (again.outcome, again.delivery.id) == ("skipped", first.delivery.id)
    assert target.received == [("nb_utlan_2026-11.csv", "A")]


def test_changed_content_is_a_new_version_and_every_version_stays(ledger, pipeline):
    target = Target()
    deliver(ledger, pipeline, target, "A")
    late = deliver(ledger, pipeline, target, "AB")  # late corrections
    assert (late.outcome, late.delivery.version, late.previous.version) == ("delivered", 2, 1)
    reverted = deliver(ledger, pipeline, target, "A")  # compared with the latest version only
    assert reverted.delivery.version == 3
    assert [(d.version, d.file_name, d.content_sha256, d.status) for d in ledger.history(pipeline, MONTH)] == [
        (1, "nb_utlan_2026-11.csv", "sha-A", "delivered"),
        (2, "nb_utlan_2026-11_v2.csv", "sha-AB", "delivered"),
        (3, "nb_utlan_2026-11_v3.csv", "sha-A", "delivered"),
    ]
    assert ledger.latest(pipeline, MONTH).version == 3


def test_a_failed_upload_is_recorded_and_the_same_version_uploaded_again(ledger, pipeline):
    target = Target()
    target.fail = ConnectionResetError("SFTP connection dropped")
    with pytest.raises(ConnectionResetError):
        deliver(ledger, pipeline, target, "A")
    failed = ledger.latest(pipeline, MONTH)
    assert (failed.version, failed.status, failed.delivered_at) == (1, "failed", None)
    assert "SFTP connection dropped" in failed.last_message
    retried = deliver(ledger, pipeline, target, "A")
    assert (retried.outcome, retried.delivery.id, retried.delivery.attempts) == ("delivered", failed.id, 2)
    assert target.received == [("nb_utlan_2026-11.csv", "A")]


def test_changed_content_after_a_failed_version_gets_the_next_number(ledger, pipeline):
    target = Target()
    deliver(ledger, pipeline, target, "A")
    target.fail = TimeoutError("upload timed out")
    with pytest.raises(TimeoutError):
        deliver(ledger, pipeline, target, "AB")
    outcome = deliver(ledger, pipeline, target, "ABC")
    assert outcome.delivery.version == 3  # one name never carries two contents
    assert [d.status for d in ledger.history(pipeline)] == ["delivered", "failed", "delivered"]


def test_concurrent_deliverers_of_the_same_content_upload_once(ledger, pipeline):
    received, barrier = [], threading.Barrier(2)

    def slow_upload(delivery):
        time.sleep(0.5)  # holds the delivery lock meanwhile
        received.append(delivery.file_name)

    outcomes = []

    def run():
        barrier.wait()
        outcomes.append(DeliveryLedger(ledger.dsn).deliver(pipeline, MONTH, "sha-A", slow_upload,
                                                           file_name=file_name).outcome)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["delivered", "skipped"]
    assert received == ["nb_utlan_2026-11.csv"]
