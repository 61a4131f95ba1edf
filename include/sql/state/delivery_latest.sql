-- The latest version of one delivery key (the one the receiver should hold), or nothing.
SELECT id, pipeline, delivery_key, version, content_sha256, file_name, files, row_count, target, status,
       attempts, last_message, created_at, updated_at, delivered_at
FROM pipeline_state.delivery
WHERE pipeline = %(pipeline)s AND delivery_key = %(delivery_key)s
ORDER BY version DESC
LIMIT 1
