-- An upload of this version is about to start: 'uploading' until its outcome is recorded (a
-- process that dies mid-upload leaves it so; the next run uploads the same version again).
UPDATE pipeline_state.delivery
SET status = 'uploading',
    attempts = attempts + 1,
    row_count = coalesce(%(row_count)s, row_count),
    target = coalesce(%(target)s, target),
    updated_at = now()
WHERE id = %(id)s
RETURNING id, pipeline, delivery_key, version, content_sha256, file_name, files, row_count, target, status,
       attempts, last_message, created_at, updated_at, delivered_at
