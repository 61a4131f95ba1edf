-- Before a registry write: mark the queued change "in doubt" until its answer is stored.
UPDATE lms.patron_registry_queue
SET attempt_started_at = now()
WHERE patron_id = %(patron_id)s
RETURNING patron_id;
