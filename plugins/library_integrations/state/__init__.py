"""The pipeline-state schema ``pipeline_state`` (Airflow connection ``loan_reporting_db``).

    migrations    versioned, forward-only migrations (include/sql/state/migrations)
    ledger        the loan report's delivery ledger (submission, submission_event)
    token_cache   the OAuth2 token cache shared by every worker process (oauth_token)
    cursors       sync cursors and watermarks, stored in the caller's transaction (cursor)
    deliveries    the ledger of file deliveries, versioned by content (delivery)
"""
