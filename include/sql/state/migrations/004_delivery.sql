-- Migration 004: the ledger of file deliveries (NB monthly statistics; any pipeline that delivers
-- files). One row per delivered version of one delivery key (e.g. the month '2026-11'): a rerun
-- with identical content delivers nothing; changed content (late corrections) is delivered again
-- as the next version (..._v2.csv), and every version stays here.
CREATE TABLE pipeline_state.delivery (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline       text        NOT NULL,              -- e.g. 'nb_statistics'
    delivery_key   text        NOT NULL,              -- what is delivered, e.g. the month '2026-11'
    version        integer     NOT NULL CHECK (version >= 1),
    content_sha256 text        NOT NULL,              -- identity of the content (e.g. the CSV's sha256)
    file_name      text        NOT NULL,              -- the main file's name as delivered
    files          jsonb       NOT NULL DEFAULT '[]', -- every file of the delivery: name, sha256, bytes
    row_count      bigint,
    target         text,                              -- where it went, e.g. 'sftp:nb_statistics_sftp'
    status         text        NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'uploading', 'delivered', 'failed')),
    attempts       integer     NOT NULL DEFAULT 0,    -- upload attempts of this version
    last_message   text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    delivered_at   timestamptz,
    UNIQUE (pipeline, delivery_key, version),
    CHECK (pipeline <> '' AND delivery_key <> ''),
    CHECK (jsonb_typeof(files) = 'array')
);
COMMENT ON TABLE pipeline_state.delivery IS
    'File deliveries: every version of every delivery key, its content hash, status and timestamps';
