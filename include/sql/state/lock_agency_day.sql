-- Session-level advisory lock of one agency-day: held while its report is being sent, so two
-- senders cannot both send. Released explicitly, or by PostgreSQL when the session ends.
-- The key is a lock name, not a table: it keeps the previous release's text so that a worker of
-- either release, during an upgrade, waits for the other.
SELECT pg_advisory_lock(hashtextextended('bokbasen_reporting.submission:' || %(isil)s::text || ':' || %(report_date)s::date::text, 0))
