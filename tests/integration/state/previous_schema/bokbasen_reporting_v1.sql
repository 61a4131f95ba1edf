-- Submission ledger and shared OAuth token cache of the Bokbasen loan reporting.
-- Idempotent: every statement is IF NOT EXISTS, so applying it again changes nothing.

CREATE SCHEMA IF NOT EXISTS bokbasen_reporting;

-- One row per agency (ISIL) and report day: the latest state of that agency-day's report.
CREATE TABLE IF NOT EXISTS bokbasen_reporting.submission (
    isil             text        NOT NULL,
    report_date      date        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'accepted', 'rejected', 'failed')),
    payload_sha256   text,
    loan_count       integer,
    attempts         integer     NOT NULL DEFAULT 0,  -- HTTP requests over all submissions
    submissions      integer     NOT NULL DEFAULT 0,  -- times a payload was (re)sent
    last_http_status integer,
    last_message     text,
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    accepted_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (isil, report_date)
);

-- Append-only history: every send, skip and failure, for audits ("why was this resent?").
CREATE TABLE IF NOT EXISTS bokbasen_reporting.submission_event (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    isil             text        NOT NULL,
    report_date      date        NOT NULL,
    event            text        NOT NULL,  -- skipped, accepted, rejected, failed
    payload_sha256   text,
    loan_count       integer,
    attempts         integer,
    http_status      integer,
    message          text,
    at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS submission_event_agency_day
    ON bokbasen_reporting.submission_event (isil, report_date);

-- OAuth2 bearer tokens shared by all worker processes, Fernet-encrypted.
CREATE TABLE IF NOT EXISTS bokbasen_reporting.oauth_token (
    token_url        text        NOT NULL,
    client_id        text        NOT NULL,
    audience_sha256  text        NOT NULL,
    audience         text        NOT NULL,
    token_ciphertext text        NOT NULL,
    fetched_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (token_url, client_id, audience_sha256)
);
