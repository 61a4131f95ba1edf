-- The registry accepted the change read at changed_at. A change made meanwhile (changed_at
-- moved) keeps its status, to be sent next night.
UPDATE lms.patron_registry_queue
SET status = CASE WHEN changed_at = %(changed_at)s THEN 'synced' ELSE status END,
    last_sync = coalesce(%(server_time)s, last_sync),
    last_error = NULL,
    attempt_started_at = NULL,
    failed_attempts = 0
WHERE patron_id = %(patron_id)s
RETURNING status;
