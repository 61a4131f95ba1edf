-- One sync per subscription at a time: a session advisory lock, held until unlock (or disconnect).
SELECT pg_try_advisory_lock(hashtextextended('bokbasen_metadata_sync:' || %(name)s, 0))
