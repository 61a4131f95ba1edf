-- The loan report's calendar for the operations view, in one query: every agency (ISIL) the ledger
-- knows that matches the filter, with its rows in [start, end]; an agency without a row in the
-- period comes once with report_date NULL, so an agency that stopped reporting is still listed.
-- replaced: the day was accepted after an earlier accepted report with another payload (resent
-- after a change: late loans, a corrected setting).
-- Filter: all agencies (all_agencies), or ISILs matching any ILIKE pattern, or listed ISILs.
-- Unordered (the caller groups). Cost for 300 agencies x 365 days: one primary-key probe per agency
-- to list them, the period's rows by the primary key, and one index-only pass over the period's
-- accepted events (migration 008).
WITH RECURSIVE ledger_isils AS (
    (SELECT isil FROM pipeline_state.submission ORDER BY isil LIMIT 1)
    UNION ALL
    SELECT (SELECT s.isil FROM pipeline_state.submission s WHERE s.isil > l.isil ORDER BY s.isil LIMIT 1)
    FROM ledger_isils l
    WHERE l.isil IS NOT NULL
),
chosen AS (
    SELECT isil
    FROM ledger_isils
    WHERE isil IS NOT NULL
      AND (%(all_agencies)s OR isil ILIKE ANY (%(patterns)s::text[]) OR isil = ANY (%(isils)s::text[]))
),
changed AS (  -- agency-days with accepted reports of more than one payload
    SELECT e.isil, e.report_date
    FROM pipeline_state.submission_event e
    WHERE e.event = 'accepted' AND e.report_date BETWEEN %(start)s AND %(end)s
    GROUP BY e.isil, e.report_date
    HAVING min(e.payload_sha256) <> max(e.payload_sha256)
)
SELECT c.isil, s.report_date, s.status, s.loan_count, s.last_http_status,
       CASE WHEN s.status <> 'accepted' THEN s.last_message END AS last_message,  -- the reason, when one is due
       (s.status = 'accepted' AND ch.isil IS NOT NULL) AS replaced
FROM chosen c
LEFT JOIN pipeline_state.submission s
       ON s.isil = c.isil AND s.report_date BETWEEN %(start)s AND %(end)s
LEFT JOIN changed ch
       ON ch.isil = s.isil AND ch.report_date = s.report_date
