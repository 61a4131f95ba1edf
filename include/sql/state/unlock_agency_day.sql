-- Same lock name as lock_agency_day.sql.
SELECT pg_advisory_unlock(hashtextextended('bokbasen_reporting.submission:' || %(isil)s::text || ':' || %(report_date)s::date::text, 0))
