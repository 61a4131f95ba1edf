-- What the local copy holds: records, deleted records, records per format.
WITH per_format AS (
    SELECT coalesce(format, '(none)') AS format, count(*) AS n, count(*) FILTER (WHERE deleted) AS deleted
    FROM pipeline_state.bokbasen_metadata
    GROUP BY 1
)
SELECT coalesce(sum(n), 0)::bigint AS records,
       coalesce(sum(deleted), 0)::bigint AS deleted,
       coalesce(jsonb_object_agg(format, n), '{}'::jsonb) AS formats
FROM per_format
