-- Sync cursors for the operations view: where each (pipeline, name) resumes and how old it is.
SELECT pipeline, name, value, changed_at, updated_at, now() AS read_at
FROM pipeline_state.cursor
ORDER BY pipeline, name
