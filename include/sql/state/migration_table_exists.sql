SELECT to_regclass('pipeline_state.schema_migration') IS NOT NULL
