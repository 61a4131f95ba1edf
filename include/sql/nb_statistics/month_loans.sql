-- Step 1b: the month's loans counted per library, item, borrower category (number, see
-- patrons.sql) and unmapped code (a temporary table). One scan of the month and one join (the
-- patron's category rule); the item -> manifestation join waits for step 3, where it meets
-- a grouped row (about one per seven loans) instead of every loan. The category of a person without a deciding code is
-- the age on the loan date: 'ukjent' before birth or from max_plausible_age + 1, 'barn' up to
-- child_max_age, else 'voksen'.
-- Every row of lms.loan is a first-time loan in the reference schema (renewals are not rows);
-- a library system that stores renewals as loans filters them out here.
-- The libraries are chosen after the grouping (MATERIALIZED keeps the choice out of the scan),
-- so PostgreSQL reads the month with one sequential or bitmap scan instead of fetching
-- 10 million rows one by one through the (loaned_at, agency_id) index.
--   %(start_utc)s, %(end_utc)s   the Oslo calendar month as a half-open UTC window
--   %(agency_ids)s               bigint[] of the included libraries
--   %(unknown)s, %(child)s, %(adult)s   the numbers of 'ukjent', 'barn' and 'voksen'
CREATE TEMP TABLE nb_month_loans ON COMMIT DROP AS
WITH grouped AS MATERIALIZED (
    SELECT l.agency_id,
           l.item_id,
           coalesce(p.fixed,
                    CASE WHEN p.born_at IS NULL OR l.loaned_at < p.born_at THEN %(unknown)s::smallint
                         WHEN l.loaned_at < p.adult_at THEN %(child)s::smallint
                         WHEN l.loaned_at < p.too_old_at THEN %(adult)s::smallint
                         ELSE %(unknown)s::smallint
                    END)            AS category,
           p.unmapped_id,
           count(*)::bigint         AS loans
    FROM lms.loan l
    JOIN nb_patron p ON p.id = l.patron_id
    WHERE l.loaned_at >= %(start_utc)s
      AND l.loaned_at <  %(end_utc)s
    GROUP BY 1, 2, 3, 4
)
SELECT g.agency_id, g.item_id, g.category, g.unmapped_id, g.loans
FROM grouped g
JOIN unnest(%(agency_ids)s::bigint[]) AS included(agency_id) ON included.agency_id = g.agency_id
