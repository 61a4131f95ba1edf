-- The version table of the pipeline-state schema (run under migration_lock.sql, before the
-- migrations; idempotent). One row per applied file of include/sql/state/migrations, never edited.
CREATE SCHEMA IF NOT EXISTS pipeline_state;

CREATE TABLE IF NOT EXISTS pipeline_state.schema_migration (
    version     integer     PRIMARY KEY CHECK (version > 0),
    name        text        NOT NULL,                     -- the file name, e.g. 002_move_to_pipeline_state.sql
    checksum    text        NOT NULL,                     -- sha256 of the file (line endings normalised)
    applied_at  timestamptz NOT NULL DEFAULT now(),
    applied_by  text        NOT NULL DEFAULT current_user,
    duration_ms integer
)
