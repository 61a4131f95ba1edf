INSERT INTO bokbasen_reporting.submission_event
    (isil, report_date, event, payload_sha256, loan_count, attempts, http_status, message)
VALUES (%(isil)s, %(report_date)s, %(event)s, %(payload_sha256)s, %(loan_count)s, %(attempts)s,
        %(http_status)s, %(message)s)
