-- NB monthly loan statistics (ISBN level): what the reference library system records for it.
-- Idempotent, and a migration for an existing lms: it only adds nullable columns and a table,
-- so rows already there stay as they are (their new columns are null: "ukjent" in the file).
--   manifestation.shelf_word  ordningsord as catalogued (e.g. 'Ham' for Hamsun; '839.8 Bje')
--   manifestation.fiction     true = skjønnlitteratur, false = faglitteratur, null = not catalogued
--   manifestation.audience    'CHILDREN' | 'ADULT' (the department that shelves it), null = not catalogued
--   patron.category           the library system's own borrower category code (mapped to NB's
--                             categories by configuration in the pipeline, not here)
--   nb_statistics_consent     per library: may the system deliver its figures to NB automatically
--                             (delivery_consent), and has it accepted that NB publishes them
--                             (publication_consent); both required, recorded with date and by whom.
ALTER TABLE lms.manifestation ADD COLUMN IF NOT EXISTS shelf_word text;
ALTER TABLE lms.manifestation ADD COLUMN IF NOT EXISTS fiction boolean;
ALTER TABLE lms.manifestation ADD COLUMN IF NOT EXISTS audience text;
ALTER TABLE lms.patron ADD COLUMN IF NOT EXISTS category text;

CREATE TABLE IF NOT EXISTS lms.nb_statistics_consent (
    agency_id           bigint      PRIMARY KEY REFERENCES lms.agency (id),
    delivery_consent    boolean     NOT NULL,
    publication_consent boolean     NOT NULL,
    decided_at          timestamptz NOT NULL,
    decided_by          text        NOT NULL
);
COMMENT ON TABLE lms.nb_statistics_consent IS
    'Per library: consent to automatic delivery of loan statistics to Nasjonalbiblioteket, and to their publication';
