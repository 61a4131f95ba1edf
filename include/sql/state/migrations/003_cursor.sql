-- Migration 003: sync cursors and watermarks (Bokbasen metadata sync, patron registry sync).
--
-- One row per (pipeline, name): the position from which a sync resumes. The value is opaque text
-- stored exactly as the service gave it (Bokbasen's `Next` cursor, the registry's `server_tid`),
-- so no parsing or time-zone conversion can shift it. A sync stores it in the same transaction as
-- the changes it covers (library_integrations.state.cursors), so a run killed mid-way resumes from
-- its last committed page: nothing lost, nothing applied twice.
CREATE TABLE pipeline_state.cursor (
    pipeline    text        NOT NULL,                 -- e.g. 'bokbasen_metadata_sync'
    name        text        NOT NULL,                 -- e.g. the subscription, or an agency's ISIL
    value       text        NOT NULL,                 -- opaque cursor / watermark
    meta        jsonb       NOT NULL DEFAULT '{}',    -- what the pipeline wants beside it
    changed_at  timestamptz NOT NULL DEFAULT now(),   -- when the value last changed (its age)
    updated_at  timestamptz NOT NULL DEFAULT now(),   -- when it was last stored, changed or not
    PRIMARY KEY (pipeline, name),
    CHECK (pipeline <> '' AND name <> ''),
    CHECK (jsonb_typeof(meta) = 'object')
);
COMMENT ON TABLE pipeline_state.cursor IS
    'Sync cursors and watermarks: where each (pipeline, name) resumes; stored with the changes they cover';
