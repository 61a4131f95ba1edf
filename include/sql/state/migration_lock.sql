-- Session-level lock: one process at a time applies pipeline-state migrations (many workers
-- start at once); the others wait, then find nothing left to do.
SELECT pg_advisory_lock(hashtextextended('pipeline_state.schema_migration', 0))
