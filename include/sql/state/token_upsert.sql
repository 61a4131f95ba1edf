INSERT INTO pipeline_state.oauth_token
    (token_url, client_id, audience_sha256, audience, token_ciphertext, fetched_at, expires_at)
VALUES (%(token_url)s, %(client_id)s, %(audience_sha256)s, %(audience)s, %(token_ciphertext)s,
        %(fetched_at)s, %(expires_at)s)
ON CONFLICT (token_url, client_id, audience_sha256) DO UPDATE
SET audience = EXCLUDED.audience,
    token_ciphertext = EXCLUDED.token_ciphertext,
    fetched_at = EXCLUDED.fetched_at,
    expires_at = EXCLUDED.expires_at
