-- Migration 002: the loan report's delivery ledger and the shared OAuth2 token cache move from
-- bokbasen_reporting into pipeline_state, the one schema of every pipeline's state.
--
-- ALTER TABLE ... SET SCHEMA moves a table with its rows, indexes, constraints, grants and the
-- sequences its columns own (submission_event's identity keeps counting where it was), so a
-- deployment that ran the previous release keeps every ledger row and its cached token.

-- Serialise with workers of the previous release, which create bokbasen_reporting under this lock.
SELECT pg_advisory_xact_lock(hashtextextended('bokbasen_reporting.schema', 0));

ALTER TABLE bokbasen_reporting.submission SET SCHEMA pipeline_state;
ALTER TABLE bokbasen_reporting.submission_event SET SCHEMA pipeline_state;
ALTER TABLE bokbasen_reporting.oauth_token SET SCHEMA pipeline_state;

COMMENT ON SCHEMA pipeline_state IS
    'State of the library integration pipelines: delivery ledgers, token cache, sync cursors';
COMMENT ON TABLE pipeline_state.schema_migration IS
    'Applied migrations of include/sql/state/migrations: forward only, one row per file, never edited';
COMMENT ON TABLE pipeline_state.submission IS
    'Bokbasen loan report: one row per agency (ISIL) and report day, the latest state of its report';
COMMENT ON TABLE pipeline_state.submission_event IS
    'Bokbasen loan report: append-only history of every send, skip and failure';
COMMENT ON TABLE pipeline_state.oauth_token IS
    'OAuth2 bearer tokens shared by all worker processes, Fernet-encrypted with the deployment key, '
    'keyed by (token_url, client_id, sha256(audience))';

-- Transition: bokbasen_reporting keeps same-named views on the moved tables, so ad-hoc queries,
-- dashboards and tools written against the old names keep working for one release, and a worker
-- still running the previous release cannot recreate an empty ledger beside the real one (its DDL
-- stops at "cannot create index on relation submission_event"; nothing is sent). A later
-- migration drops this schema.
CREATE VIEW bokbasen_reporting.submission AS SELECT * FROM pipeline_state.submission;
CREATE VIEW bokbasen_reporting.submission_event AS SELECT * FROM pipeline_state.submission_event;
CREATE VIEW bokbasen_reporting.oauth_token AS SELECT * FROM pipeline_state.oauth_token;
COMMENT ON SCHEMA bokbasen_reporting IS
    'Deprecated: moved to pipeline_state by migration 002; these views are for the transition only';
