-- Every version of a pipeline's deliveries, optionally of one delivery key (NULL = all).
SELECT id, pipeline, delivery_key, version, content_sha256, file_name, files, row_count, target, status,
       attempts, last_message, created_at, updated_at, delivered_at
FROM pipeline_state.delivery
WHERE pipeline = %(pipeline)s
  AND (%(delivery_key)s::text IS NULL OR delivery_key = %(delivery_key)s::text)
ORDER BY delivery_key, version
