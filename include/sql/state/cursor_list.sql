SELECT pipeline, name, value, meta, changed_at, updated_at
FROM pipeline_state.cursor
WHERE (%(pipeline)s::text IS NULL OR pipeline = %(pipeline)s::text)
ORDER BY pipeline, name
