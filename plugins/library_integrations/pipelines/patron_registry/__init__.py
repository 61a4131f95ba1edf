"""National patron registry sync: registry -> library system in the morning, library system -> registry at night.

================  ==========================================================================
``settings``      ``PATRON_REGISTRY_*`` settings (schedules, overlap, page size, limits)
``payloads``      typed XCom payloads: the library to sync, the per-library result, the summary
``mapping``       which local field is which registry field, both ways
``export``        the night: the library's queue sent to the registry, patron by patron
``importing``     the morning: the registry's changes since the watermark applied locally
``steps``         listing libraries and the run's summary table
``tasks``         Airflow glue for both DAGs
================  ==========================================================================
"""
