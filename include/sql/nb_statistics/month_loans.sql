-- Step 1b: the month's loans of the included libraries, counted per library, manifestation,
-- borrower category (number, see patrons.sql) and unmapped code (a temporary table). One scan of
-- the month; the category of a person without a deciding code is the age on the loan date:
-- 'ukjent' before birth or from max_plausible_age + 1, 'barn' up to child_max_age, else 'voksen'.
-- Every row of lms.loan is a first-time loan in the reference schema (renewals are not rows);
-- a library system that stores renewals as loans filters them out here.
-- The libraries are a join (not `agency_id = ANY`), so PostgreSQL reads the month with a bitmap
-- scan instead of fetching 10 million rows one by one through the index.
--   %(start_utc)s, %(end_utc)s   the Oslo calendar month as a half-open UTC window
--   %(agency_ids)s               bigint[] of the included libraries
--   %(unknown)s, %(child)s, %(adult)s   the numbers of 'ukjent', 'barn' and 'voksen'
CREATE TEMP TABLE nb_month_loans ON COMMIT DROP AS
SELECT l.agency_id,
       i.manifestation_id,
       coalesce(p.fixed,
                CASE WHEN p.born_at IS NULL OR l.loaned_at < p.born_at THEN %(unknown)s::smallint
                     WHEN l.loaned_at < p.adult_at THEN %(child)s::smallint
                     WHEN l.loaned_at < p.too_old_at THEN %(adult)s::smallint
                     ELSE %(unknown)s::smallint
                END)            AS category,
       p.unmapped_id,
       count(*)::bigint         AS loans
FROM lms.loan l
JOIN unnest(%(agency_ids)s::bigint[]) AS included(agency_id) ON included.agency_id = l.agency_id
JOIN lms.item i  ON i.id = l.item_id
JOIN nb_patron p ON p.id = l.patron_id
WHERE l.loaned_at >= %(start_utc)s
  AND l.loaned_at <  %(end_utc)s
GROUP BY 1, 2, 3, 4
