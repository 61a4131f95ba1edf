INSERT INTO pipeline_state.delivery
    (pipeline, delivery_key, version, content_sha256, file_name, files, row_count, target)
VALUES (%(pipeline)s, %(delivery_key)s, %(version)s, %(content_sha256)s, %(file_name)s,
        coalesce(%(files)s::jsonb, '[]'::jsonb), %(row_count)s, %(target)s)
RETURNING id, pipeline, delivery_key, version, content_sha256, file_name, files, row_count, target, status,
       attempts, last_message, created_at, updated_at, delivered_at
