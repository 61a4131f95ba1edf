-- Migration 005: the local copy of Bokbasen's metadata, kept by the metadata sync (Export Service,
-- ONIX 3.0) and read by the other pipelines (the loan report fills missing titles, authors and
-- languages from it by EAN).
--
-- One row per EAN (ISBN-13/GTIN-13), upserted as the service's changes arrive: a product's latest
-- state wins. A delete (ONIX notification 05) does not erase the row: it is marked deleted (with
-- the time), keeping what was known, and a later update revives it. The sync stores its cursor in
-- the same transaction as each page's upserts (pipeline_state.cursor), so re-applying a page after
-- a crash changes nothing: the upserts are idempotent by EAN.
CREATE TABLE pipeline_state.bokbasen_metadata (
    ean                     text        PRIMARY KEY,          -- 13 digits, checksum valid
    record_reference        text        NOT NULL,             -- ONIX RecordReference
    notification_type       text        NOT NULL,             -- ONIX list 1; '05' = deleted
    deleted                 boolean     NOT NULL DEFAULT false,
    title                   text,                             -- TitleType 01, element level 01
    subtitle                text,
    authors                 text[]      NOT NULL DEFAULT '{}', -- A01 in sequence order (B01 when none)
    contributors            jsonb       NOT NULL DEFAULT '[]', -- [{"sequence", "roles", "name"}, ...]
    language                text,                             -- LanguageRole 01, ISO 639-2/B
    product_form            text,                             -- ONIX list 150, e.g. 'BC'
    format                  text,                             -- AUDIO | EBOOK | PAPER | the form code
    publication_date        text,                             -- as sent, e.g. '2019' or '20190315'
    publication_date_format text,                             -- ONIX list 55, e.g. '05' (a year)
    publication_year        integer,
    publisher               text,
    audience                text,                             -- Bokbasen_Audience, e.g. 'Voksen'
    first_seen_at           timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(), -- last change received
    deleted_at              timestamptz,                      -- when the current delete arrived
    CHECK (ean ~ '^[0-9]{13}$'),
    CHECK (jsonb_typeof(contributors) = 'array'),
    CHECK (deleted = (deleted_at IS NOT NULL))
);
CREATE INDEX bokbasen_metadata_record_reference ON pipeline_state.bokbasen_metadata (record_reference);
COMMENT ON TABLE pipeline_state.bokbasen_metadata IS
    'Bokbasen metadata sync: the latest ONIX record per EAN (deletes kept, marked deleted); '
    'read by the loan report to fill missing titles, authors and languages';
