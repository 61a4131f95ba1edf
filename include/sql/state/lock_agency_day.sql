-- Session-level advisory lock of one agency-day: held while its report is being sent, so two
-- senders cannot both send. Released explicitly, or by PostgreSQL when the session ends.
SELECT pg_advisory_lock(hashtextextended('bokbasen_reporting.submission:' || %(isil)s::text || ':' || %(report_date)s::date::text, 0))
