-- Store the first cursor of (pipeline, name); no row back if one is stored already.
INSERT INTO pipeline_state.cursor (pipeline, name, value, meta)
VALUES (%(pipeline)s, %(name)s, %(value)s, coalesce(%(meta)s::jsonb, '{}'::jsonb))
ON CONFLICT (pipeline, name) DO NOTHING
RETURNING pipeline, name, value, meta, changed_at, updated_at
