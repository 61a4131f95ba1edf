-- Reference library-system schema (docs/contracts.md section 2). Idempotent: safe to run again.
-- Keep these names and types: outside tools populate them.
CREATE SCHEMA IF NOT EXISTS lms;

CREATE TABLE IF NOT EXISTS lms.agency (
    id   bigint PRIMARY KEY,
    isil text NOT NULL UNIQUE,
    name text NOT NULL
);

CREATE TABLE IF NOT EXISTS lms.bokbasen_agency_settings (
    agency_id    bigint PRIMARY KEY REFERENCES lms.agency (id),
    enabled      boolean NOT NULL,
    library_name text,
    library_type text,
    postal_code  text,
    municipality text,
    county       text
);

CREATE TABLE IF NOT EXISTS lms.material_type (
    code        text PRIMARY KEY,
    description text NOT NULL
);

CREATE TABLE IF NOT EXISTS lms.manifestation (
    id                 bigint PRIMARY KEY,
    isbn               text,
    title              text,
    authors            text[],
    language           text,
    material_type_code text NOT NULL REFERENCES lms.material_type (code),
    publication_year   int
);

CREATE TABLE IF NOT EXISTS lms.item (
    id               bigint PRIMARY KEY,
    manifestation_id bigint NOT NULL REFERENCES lms.manifestation (id),
    agency_id        bigint NOT NULL REFERENCES lms.agency (id),
    barcode          text
);

CREATE TABLE IF NOT EXISTS lms.patron (
    id          bigint PRIMARY KEY,
    birth_date  date,
    gender      text,
    patron_kind text NOT NULL
);

CREATE TABLE IF NOT EXISTS lms.loan (
    id         bigint PRIMARY KEY,
    item_id    bigint NOT NULL REFERENCES lms.item (id),
    patron_id  bigint NOT NULL REFERENCES lms.patron (id),
    agency_id  bigint NOT NULL REFERENCES lms.agency (id),
    loaned_at  timestamptz NOT NULL
);

-- The nightly extract selects one day of loans for a set of agencies.
CREATE INDEX IF NOT EXISTS loan_loaned_at_agency_idx ON lms.loan (loaned_at, agency_id);
