-- A payload is about to be sent: status 'sent' until the API's answer is recorded.
UPDATE bokbasen_reporting.submission
SET status = 'sent',
    payload_sha256 = %(payload_sha256)s,
    loan_count = %(loan_count)s,
    submissions = submissions + 1,
    first_attempt_at = coalesce(first_attempt_at, now()),
    last_attempt_at = now(),
    updated_at = now()
WHERE isil = %(isil)s AND report_date = %(report_date)s
