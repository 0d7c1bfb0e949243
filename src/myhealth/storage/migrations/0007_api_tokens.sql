-- Long-lived, revocable, read-only API tokens (`myhealth token create`; docs/api.md#long-lived-tokens).
--
-- Only the SHA-256 of a token is stored: the token is 256 random bits, so a plain hash cannot
-- be reversed or guessed (no salt or slow hash needed, unlike a password), and a lookup by
-- hash is one index probe. The plaintext is printed once by `token create` and kept nowhere.
--
-- The API connects as the read-only role, which must not read this table (Grafana uses the
-- same role). It gets two SECURITY DEFINER functions instead, each doing one narrow thing:
-- look up the state of the token whose hash the caller already holds, and record that
-- token's last use. `reader_access.grant_reader_access` grants EXECUTE on them to the reader.

CREATE TABLE api_tokens (
    token_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    scope        text        NOT NULL DEFAULT 'read' CHECK (scope = 'read'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CHECK (expires_at > created_at)
);

-- A name belongs to one token that is not revoked; a revoked name can be used again
-- (rotation: revoke `ha`, create `ha`), and the revoked row stays for `token list`.
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- The token's state for the API: 'active', 'expired' or 'revoked' (no row: unknown). With
-- `touch`, also records the use (the caller throttles, and runs it in a read-write
-- transaction); the row is locked only then.
CREATE FUNCTION api_token_authenticate(presented_hash bytea, touch boolean)
RETURNS TABLE (name text, state text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF touch THEN
        UPDATE public.api_tokens AS t SET last_used_at = now()
        WHERE t.token_hash = presented_hash AND t.revoked_at IS NULL AND t.expires_at > now();
    END IF;
    RETURN QUERY
        SELECT t.name,
               CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'
                    WHEN t.expires_at <= now() THEN 'expired'
                    ELSE 'active' END
        FROM public.api_tokens AS t
        WHERE t.token_hash = presented_hash;
END
$$;

-- Functions are executable by PUBLIC by default; only the roles granted below may call it.
REVOKE ALL ON FUNCTION api_token_authenticate(bytea, boolean) FROM PUBLIC;
