SELECT isil, report_date, status, payload_sha256, loan_count, attempts, submissions,
       last_http_status, last_message, first_attempt_at, last_attempt_at, accepted_at,
       created_at, updated_at
FROM pipeline_state.submission
WHERE isil = %(isil)s AND report_date = %(report_date)s
