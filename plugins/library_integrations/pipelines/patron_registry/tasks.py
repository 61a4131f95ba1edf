"""Airflow-facing glue of the two patron registry DAGs (``patron_registry_export``, ``patron_registry_import``).

Each function takes the task's context, resolves connections (the library system's
database, the pipeline-state database, the registry connection for one library), turns XCom
data into the typed payloads of :mod:`.payloads` and calls :mod:`.export`,
:mod:`.importing` or :mod:`.steps`.

Errors: a refused credential or a broken connection fails the library's task without
retries (:class:`~airflow.sdk.exceptions.AirflowFailException`: fix the configuration);
the registry unreachable (after the client's own retries, or for several patrons in a row)
fails it *with* Airflow's retries. The reason is also left in XCom (key ``failure``) for the
summary. Patron failures never fail a task: they stay queued with the registry's message.
"""

from __future__ import annotations

import logging
from typing import Any

from library_integrations.pipelines.patron_registry import steps
from library_integrations.pipelines.patron_registry.payloads import LibraryToSync, SyncResult
from library_integrations.pipelines.patron_registry.settings import RegistrySettings

log = logging.getLogger(__name__)

FAILURE_KEY = "failure"


def _connect(conn_id: str):
    import psycopg

    from library_integrations.state.connection import dsn_from_connection

    return psycopg.connect(dsn_from_connection(conn_id), autocommit=True)


def libraries(context, config: RegistrySettings, direction: str) -> list[dict]:
    with _connect(config.library_conn_id) as conn:
        return [lib.to_xcom() for lib in steps.libraries_to_sync(conn, direction)]


def _label(library: LibraryToSync) -> None:
    from airflow.sdk import get_current_context

    # Rendered as the mapped task's name in the UI (map_index_template="{{ library_label }}").
    get_current_context()["library_label"] = library.label


def _run(library_data: dict, context, work) -> dict:
    from airflow.sdk.exceptions import AirflowFailException

    from library_integrations.clients.registry.errors import (
        RegistryAuthError,
        RegistryConfigError,
        RegistryForbidden,
    )
    from library_integrations.clients.registry.privacy import scrub

    library = LibraryToSync.from_xcom(library_data)
    _label(library)
    try:
        return work(library).to_xcom()
    except (RegistryAuthError, RegistryForbidden, RegistryConfigError) as exc:
        _record_failure(context, scrub(str(exc)))
        raise AirflowFailException(scrub(str(exc))) from None
    except Exception as exc:
        _record_failure(context, scrub(f"{type(exc).__name__}: {exc}"))
        raise


def _record_failure(context, message: str | None) -> None:
    try:
        context["ti"].xcom_push(key=FAILURE_KEY, value=(message or "")[:2000])
    except Exception:  # never hide the real error
        log.exception("could not record the failure reason for the summary")


def _registry(library: LibraryToSync, config: RegistrySettings):
    from library_integrations.clients.registry.soap import registry_for

    return registry_for(library.isil, config.conn_id)


def export_library(library_data: dict, context, config: RegistrySettings) -> dict:
    from library_integrations.pipelines.patron_registry.export import run_export

    def work(library: LibraryToSync) -> SyncResult:
        with _registry(library, config) as registry, _connect(config.library_conn_id) as conn:
            return run_export(conn, registry, steps.as_library(library),
                              max_transport_failures=config.max_transport_failures)

    return _run(library_data, context, work)


def import_library(library_data: dict, context, config: RegistrySettings) -> dict:
    from library_integrations.pipelines.patron_registry.importing import run_import
    from library_integrations.state.connection import dsn_from_connection
    from library_integrations.state.migrations import migrate

    def work(library: LibraryToSync) -> SyncResult:
        migrate(dsn_from_connection(config.state_conn_id))
        with (
            _registry(library, config) as registry,
            _connect(config.library_conn_id) as conn,
            _connect(config.state_conn_id) as state,
        ):
            return run_import(
                conn, state, registry, steps.as_library(library), overlap=config.overlap,
                initial_lookback=config.initial_lookback, page_size=config.page_size, timezone=config.timezone,
                run_id=context.get("run_id"),
            )

    return _run(library_data, context, work)


def summary(direction: str, libraries_data: list[dict], results_data: Any, context, config: RegistrySettings) -> dict:
    from airflow.sdk.exceptions import AirflowFailException

    libraries = [LibraryToSync.from_xcom(d) for d in libraries_data or []]
    # The mapped results: only the libraries whose task succeeded pushed one. Index within the
    # sequence's length (iterating past its end would ask the API server for a missing XCom).
    values = [results_data[i] for i in range(len(results_data))] if results_data else []
    results = [SyncResult.from_xcom(d) for d in values if d]
    failures: dict[str, str] = {}
    done = {r.isil for r in results}
    for map_index, library in enumerate(libraries):  # the mapped tasks follow the list's order
        if library.isil not in done:
            reason = context["ti"].xcom_pull(task_ids="sync", key=FAILURE_KEY, map_indexes=map_index)
            if reason:
                failures[library.isil] = reason
    result = steps.summarize(direction, libraries, results, failures, alert_after=config.alert_after_failures)
    problems = []
    if result.failed_libraries:
        problems.append(f"{len(result.failed_libraries)} of {len(libraries)} libraries failed: "
                        + ", ".join(result.failed_libraries))
    if result.alerts:
        problems.append(f"{len(result.alerts)} patron(s) failed {config.alert_after_failures} or more nights in a row")
    if problems:
        raise AirflowFailException("; ".join(problems) + ". See the table above and each library's log.")
    return result.to_xcom()
