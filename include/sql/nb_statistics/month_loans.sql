-- Step 1 of the aggregate: the month's loans of the included libraries, counted per library,
-- manifestation and NB borrower category (a temporary table, gone at the end of the
-- transaction). Rules of the category (include/config/nb_borrower_categories.toml):
--   patron_kind LIBRARY -> 'bibliotek'; a mapped code -> its category; a person otherwise ->
--   age in whole years on the Oslo-local loan date ('barn' <= child_max_age < 'voksen' <=
--   max_plausible_age, else 'ukjent'); another kind otherwise -> its kind's category or 'ukjent'.
-- unmapped_code: the (trimmed, upper-case) code that did not decide, for the log.
-- Every row of lms.loan is a first-time loan in the reference schema (renewals are not rows);
-- a library system that stores renewals as loans filters them out here.
--   %(start_utc)s, %(end_utc)s   the Oslo calendar month as a half-open UTC window
--   %(agency_ids)s               bigint[] of the included libraries
--   %(codes)s, %(code_categories)s, %(kinds)s, %(kind_categories)s   the mapping, as arrays
--   %(adult_age)s = child_max_age + 1, %(too_old)s = max_plausible_age + 1
CREATE TEMP TABLE nb_month_loans ON COMMIT DROP AS
WITH code_map AS (
    SELECT code, category FROM unnest(%(codes)s::text[], %(code_categories)s::text[]) AS m(code, category)
), kind_map AS (
    SELECT kind, category FROM unnest(%(kinds)s::text[], %(kind_categories)s::text[]) AS k(kind, category)
), patron AS (
    SELECT p.id,
           p.patron_kind,
           p.birth_date,
           CASE WHEN p.patron_kind = 'LIBRARY' THEN 'bibliotek' ELSE cm.category END AS mapped,
           CASE WHEN p.patron_kind <> 'LIBRARY' AND cm.category IS NULL THEN nullif(upper(btrim(p.category)), '')
           END AS unmapped_code,
           km.category AS kind_category
    FROM lms.patron p
    LEFT JOIN code_map cm ON cm.code = upper(btrim(p.category))
    LEFT JOIN kind_map km ON km.kind = upper(btrim(p.patron_kind))
)
SELECT l.agency_id,
       i.manifestation_id,
       CASE
           WHEN p.mapped IS NOT NULL THEN p.mapped
           WHEN p.patron_kind = 'PERSON' THEN
               CASE
                   WHEN p.birth_date IS NULL
                        OR p.birth_date > (l.loaned_at AT TIME ZONE 'Europe/Oslo')::date THEN 'ukjent'
                   WHEN p.birth_date > (l.loaned_at AT TIME ZONE 'Europe/Oslo')::date
                                       - make_interval(years => %(adult_age)s) THEN 'barn'
                   WHEN p.birth_date > (l.loaned_at AT TIME ZONE 'Europe/Oslo')::date
                                       - make_interval(years => %(too_old)s) THEN 'voksen'
                   ELSE 'ukjent'
               END
           ELSE coalesce(p.kind_category, 'ukjent')
       END                  AS category,
       p.unmapped_code,
       count(*)::bigint     AS loans
FROM lms.loan l
JOIN lms.item i ON i.id = l.item_id
JOIN patron p   ON p.id = l.patron_id
WHERE l.loaned_at >= %(start_utc)s
  AND l.loaned_at <  %(end_utc)s
  AND l.agency_id = ANY (%(agency_ids)s)
GROUP BY 1, 2, 3, 4
