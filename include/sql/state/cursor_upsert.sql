-- Store a cursor whatever was stored before. meta NULL keeps the stored meta.
INSERT INTO pipeline_state.cursor AS c (pipeline, name, value, meta)
VALUES (%(pipeline)s, %(name)s, %(value)s, coalesce(%(meta)s::jsonb, '{}'::jsonb))
ON CONFLICT (pipeline, name) DO UPDATE
SET value = EXCLUDED.value,
    meta = coalesce(%(meta)s::jsonb, c.meta),
    changed_at = CASE WHEN c.value = EXCLUDED.value THEN c.changed_at ELSE now() END,
    updated_at = now()
RETURNING pipeline, name, value, meta, changed_at, updated_at
