-- The change was not accepted: keep its status (retried next night), record why.
-- in_doubt: the registry may have applied it (no answer came back), so keep the marker.
UPDATE lms.patron_registry_queue
SET last_error = %(message)s,
    failed_attempts = failed_attempts + 1,
    attempt_started_at = CASE WHEN %(in_doubt)s THEN attempt_started_at END
WHERE patron_id = %(patron_id)s
RETURNING failed_attempts;
