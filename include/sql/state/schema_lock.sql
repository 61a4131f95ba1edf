-- Serialise concurrent first-time DDL (CREATE ... IF NOT EXISTS can race on the catalog).
SELECT pg_advisory_xact_lock(hashtextextended('bokbasen_reporting.schema', 0))
