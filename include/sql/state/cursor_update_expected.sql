-- Move a cursor only from the value the caller read; no row back if another run moved it.
UPDATE pipeline_state.cursor AS c
SET value = %(value)s,
    meta = coalesce(%(meta)s::jsonb, c.meta),
    changed_at = CASE WHEN c.value = %(value)s THEN c.changed_at ELSE now() END,
    updated_at = now()
WHERE pipeline = %(pipeline)s AND name = %(name)s AND value = %(expected)s
RETURNING pipeline, name, value, meta, changed_at, updated_at
