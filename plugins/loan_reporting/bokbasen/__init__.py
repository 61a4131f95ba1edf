"""Sending loan reports to Bokbasen: the API client, the submission ledger and a local fake API.

=====================  ==================================================================
``errors``             typed errors: retry later vs. the report is wrong vs. configuration
``hook``               :class:`BokbasenHook` (OAuth2, shared token cache, retries)
``ledger``             :class:`Ledger`: one row per agency-day, idempotent submissions
``token_cache``        Fernet-encrypted bearer tokens shared by all worker processes
``fake_server``        :class:`FakeBokbasen`, ``python -m loan_reporting.bokbasen.fake_server``
=====================  ==================================================================

Names are imported lazily: ``from loan_reporting.bokbasen import Ledger`` does not import
Airflow; only the hook does.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BokbasenError": "errors",
    "BokbasenRetryableError": "errors",
    "BokbasenReportRejected": "errors",
    "BokbasenAuthError": "errors",
    "BokbasenForbidden": "errors",
    "BokbasenConfigError": "errors",
    "SendResult": "results",
    "BokbasenHook": "hook",
    "RetryPolicy": "hook",
    "derive_audience": "hook",
    "Ledger": "ledger",
    "LedgerRow": "ledger",
    "SubmissionOutcome": "ledger",
    "create_ledger_schema": "ledger",
    "FakeBokbasen": "fake_server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
