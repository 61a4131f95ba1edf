DELETE FROM pipeline_state.cursor
WHERE pipeline = %(pipeline)s AND name = %(name)s
RETURNING pipeline, name, value, meta, changed_at, updated_at
