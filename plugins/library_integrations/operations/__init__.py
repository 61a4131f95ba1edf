"""The operations view in the Airflow UI: per-pipeline calendars read from the pipeline state.

Sits beside the pipelines (it reads their state, never their code).
"""
