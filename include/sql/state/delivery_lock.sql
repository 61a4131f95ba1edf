-- Session-level advisory lock of one delivery key: one deliverer at a time decides the version
-- and uploads; a second one waits, then finds the content delivered. Released explicitly, or by
-- PostgreSQL when the session ends.
SELECT pg_advisory_lock(hashtextextended('pipeline_state.delivery:' || %(pipeline)s::text || ':' || %(delivery_key)s::text, 0))
