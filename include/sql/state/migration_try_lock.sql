-- As migration_lock.sql without waiting: false when another process is migrating.
SELECT pg_try_advisory_lock(hashtextextended('pipeline_state.schema_migration', 0))
