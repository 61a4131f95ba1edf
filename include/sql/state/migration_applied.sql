SELECT version, name, checksum, applied_at, applied_by, duration_ms
FROM pipeline_state.schema_migration
ORDER BY version
