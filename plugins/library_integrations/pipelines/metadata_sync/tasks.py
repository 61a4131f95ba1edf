"""Airflow-facing glue of the metadata sync DAG: connections in, typed errors to task outcomes.

* a refusal that resending cannot fix (a parameter or ``Date`` error, refused credentials,
  no access, an unusable connection) fails the task at once, with the service's message
  (:class:`~airflow.sdk.exceptions.AirflowFailException`: no Airflow retry);
* a transient failure that outlasted the per-page retries, a page that is not ONIX, or a
  concurrent run raises as is: Airflow retries the task, which resumes from the last
  committed page.
"""

from __future__ import annotations

import logging

from library_integrations.common.settings import STATE_CONN_ID
from library_integrations.pipelines.metadata_sync import steps
from library_integrations.pipelines.metadata_sync.config import SyncSettings

log = logging.getLogger(__name__)


def sync(context, settings: SyncSettings) -> dict:
    from airflow.sdk.exceptions import AirflowFailException

    from library_integrations.clients.bokbasen.errors import (
        BokbasenAuthError,
        BokbasenConfigError,
        BokbasenExportRejected,
        BokbasenForbidden,
    )
    from library_integrations.clients.bokbasen.export import DEFAULT_CONN_ID, BokbasenExportHook
    from library_integrations.state.connection import dsn_from_connection

    hook = BokbasenExportHook(bokbasen_export_conn_id=DEFAULT_CONN_ID, state_conn_id=STATE_CONN_ID)
    try:
        result = steps.run_sync(dsn_from_connection(STATE_CONN_ID), hook, settings)
    except BokbasenExportRejected as exc:  # already logged with the service's message by the client
        raise AirflowFailException(str(exc)) from None
    except (BokbasenAuthError, BokbasenForbidden, BokbasenConfigError) as exc:
        log.error("%s", exc)
        raise AirflowFailException(str(exc)) from None
    finally:
        hook.close()
    return result.to_xcom()
