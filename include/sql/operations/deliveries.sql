-- File deliveries for the operations view: every version of the newest :keys delivery keys of
-- each pipeline (e.g. the last 12 months of NB statistics), newest key and version first.
WITH ranked AS (
    SELECT d.*, dense_rank() OVER (PARTITION BY d.pipeline ORDER BY d.delivery_key DESC) AS key_rank
    FROM pipeline_state.delivery d
)
SELECT pipeline, delivery_key, version, status, file_name, row_count, target, attempts, last_message,
       created_at, updated_at, delivered_at, now() AS read_at
FROM ranked
WHERE key_rank <= %(keys)s
ORDER BY pipeline, delivery_key DESC, version DESC
