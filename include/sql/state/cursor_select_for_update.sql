-- As cursor_select.sql, and the row stays locked until the caller's transaction ends, so a
-- second run of the same sync waits here instead of reading a cursor the first one is moving.
SELECT pipeline, name, value, meta, changed_at, updated_at
FROM pipeline_state.cursor
WHERE pipeline = %(pipeline)s AND name = %(name)s
FOR UPDATE
