-- Transaction-level lock of one token cache key: only one process fetches a new token,
-- the others wait and then read the token it stored. The key is a lock name, not a table: it
-- keeps the previous release's text so that workers of both releases share one fetch.
SELECT pg_advisory_xact_lock(hashtextextended(
    'bokbasen_reporting.oauth_token:' || %(token_url)s::text || ':' || %(client_id)s::text || ':' || %(audience_sha256)s::text, 0))
