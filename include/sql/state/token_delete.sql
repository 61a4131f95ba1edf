-- Drop a cached token the API refused (only if it is still the one that was refused: another
-- process may already have stored a fresh one).
DELETE FROM pipeline_state.oauth_token
WHERE token_url = %(token_url)s AND client_id = %(client_id)s AND audience_sha256 = %(audience_sha256)s
  AND fetched_at = %(fetched_at)s
