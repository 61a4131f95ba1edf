-- The loans of one report day for a set of agencies (docs/contracts.md sections 1-2).
--   %(start_utc)s, %(end_utc)s : the Oslo calendar day as a half-open UTC window
--   %(agency_ids)s             : bigint[] of the enabled agencies
-- Nothing that identifies a patron leaves the database: no patron id, birth date or name.
-- The age is computed here, in whole years on the Oslo-local loan date (null when the
-- birth date is unknown or after the loan: the builder also drops implausible ages).
-- Timestamps leave as epoch microseconds, authors joined by U+001F: both parse as vectors.
-- Every loan of the window is read, even when the library system lacks a row it refers to
-- (outer joins): a loan whose item or manifestation is missing arrives without material
-- type and is excluded as unknown_material_type, named by loan id in the quality summary;
-- a loan whose patron row is missing arrives as an anonymous borrower (not a person). The
-- item's own agency is not used: a loan belongs to the agency that lent it (l.agency_id),
-- also when the item belongs to another agency (floating collections, transfers).
SELECT l.id                                                   AS loan_id,
       l.agency_id,
       (extract(epoch FROM l.loaned_at) * 1000000)::bigint    AS loaned_at_us,
       m.isbn,
       m.title,
       array_to_string(m.authors, E'\x1f')                    AS authors,
       m.language,
       m.material_type_code,
       p.patron_kind,
       p.gender,
       CASE WHEN p.birth_date <= (l.loaned_at AT TIME ZONE 'Europe/Oslo')::date
            THEN extract(year FROM age((l.loaned_at AT TIME ZONE 'Europe/Oslo')::date, p.birth_date))::int
       END                                                    AS age
FROM lms.loan l
LEFT JOIN lms.item i          ON i.id = l.item_id
LEFT JOIN lms.manifestation m ON m.id = i.manifestation_id
LEFT JOIN lms.patron p        ON p.id = l.patron_id
WHERE l.loaned_at >= %(start_utc)s
  AND l.loaned_at <  %(end_utc)s
  AND l.agency_id = ANY (%(agency_ids)s)
