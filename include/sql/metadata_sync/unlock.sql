SELECT pg_advisory_unlock(hashtextextended('bokbasen_metadata_sync:' || %(name)s, 0))
