DELETE FROM pipeline_state.oauth_token
WHERE token_url = %(token_url)s AND client_id = %(client_id)s AND audience_sha256 = %(audience_sha256)s
