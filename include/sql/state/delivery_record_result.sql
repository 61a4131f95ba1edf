UPDATE pipeline_state.delivery
SET status = %(status)s,
    last_message = %(message)s,
    files = coalesce(%(files)s::jsonb, files),
    delivered_at = CASE WHEN %(status)s::text = 'delivered' THEN now() ELSE delivered_at END,
    updated_at = now()
WHERE id = %(id)s
RETURNING id, pipeline, delivery_key, version, content_sha256, file_name, files, row_count, target, status,
       attempts, last_message, created_at, updated_at, delivered_at
