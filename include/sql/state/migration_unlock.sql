SELECT pg_advisory_unlock(hashtextextended('pipeline_state.schema_migration', 0))
