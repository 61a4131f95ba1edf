-- Ledger rows, optionally filtered by ISIL and/or report date (NULL = no filter).
SELECT isil, report_date, status, payload_sha256, loan_count, attempts, submissions,
       last_http_status, last_message, first_attempt_at, last_attempt_at, accepted_at,
       created_at, updated_at
FROM bokbasen_reporting.submission
WHERE (%(isil)s::text IS NULL OR isil = %(isil)s::text)
  AND (%(report_date)s::date IS NULL OR report_date = %(report_date)s::date)
ORDER BY report_date, isil
