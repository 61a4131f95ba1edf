-- The API's answer (or the lack of one) for the payload that was just sent.
UPDATE pipeline_state.submission
SET status = %(status)s,
    attempts = attempts + %(attempts)s,
    last_http_status = %(http_status)s,
    last_message = %(message)s,
    last_attempt_at = now(),
    accepted_at = CASE WHEN %(status)s::text = 'accepted' THEN now() ELSE accepted_at END,
    updated_at = now()
WHERE isil = %(isil)s AND report_date = %(report_date)s
