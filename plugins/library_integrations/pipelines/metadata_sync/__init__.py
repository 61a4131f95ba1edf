"""The Bokbasen metadata sync (DAG ``bokbasen_metadata_sync``): ONIX changes into the pipeline state.

    config     settings (``METADATA_SYNC_*``)
    steps      plain functions: where to start, the page loop, the log
    tasks      Airflow glue: connections, typed errors to task outcomes
    payloads   the typed XCom result of a run
"""
