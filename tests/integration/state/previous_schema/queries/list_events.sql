SELECT id, isil, report_date, event, payload_sha256, loan_count, attempts, http_status, message, at
FROM bokbasen_reporting.submission_event
WHERE (%(isil)s::text IS NULL OR isil = %(isil)s::text)
  AND (%(report_date)s::date IS NULL OR report_date = %(report_date)s::date)
ORDER BY id
