SELECT token_ciphertext, fetched_at, expires_at
FROM pipeline_state.oauth_token
WHERE token_url = %(token_url)s AND client_id = %(client_id)s AND audience_sha256 = %(audience_sha256)s
