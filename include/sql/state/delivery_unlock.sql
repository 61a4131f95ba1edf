SELECT pg_advisory_unlock(hashtextextended('pipeline_state.delivery:' || %(pipeline)s::text || ':' || %(delivery_key)s::text, 0))
