-- Step 1a: each patron's borrower category, decided once per patron (a temporary table):
--   fixed        the category when it does not depend on the loan date: patron_kind LIBRARY ->
--                'bibliotek'; a mapped code -> its category; a non-person otherwise -> its kind's
--                category or 'ukjent'; null for a person whose code does not decide (age rule)
--   born_at, adult_at, too_old_at   for the age rule: Oslo midnight of the birth date, of the
--                day the person turns child_max_age + 1 and max_plausible_age + 1 (a 29 February
--                birthday falls on 1 March in other years, as whole years of age count it)
--   unmapped_id, unmapped_code      a code the mapping does not know (0 / null: none)
-- Categories are small integers: positions (0-based) in the pipeline's list barn, voksen, bibliotek,
-- institusjon, annet, ukjent (config.ALL_CATEGORIES).
--   %(codes)s, %(code_categories)s, %(kinds)s, %(kind_categories)s   the mapping, as arrays
--   %(library)s, %(unknown)s      the numbers of 'bibliotek' and 'ukjent'
--   %(adult_age)s = child_max_age + 1, %(too_old)s = max_plausible_age + 1
CREATE TEMP TABLE nb_patron ON COMMIT DROP AS
WITH code_map AS (
    SELECT code, category FROM unnest(%(codes)s::text[], %(code_categories)s::smallint[]) AS m(code, category)
), kind_map AS (
    SELECT kind, category FROM unnest(%(kinds)s::text[], %(kind_categories)s::smallint[]) AS k(kind, category)
), patron AS (
    SELECT p.id,
           p.patron_kind,
           p.birth_date,
           CASE WHEN p.patron_kind = 'LIBRARY' THEN %(library)s::smallint ELSE cm.category END AS mapped,
           km.category                                                                   AS kind_category,
           CASE WHEN p.patron_kind <> 'LIBRARY' AND cm.category IS NULL THEN nullif(upper(btrim(p.category)), '')
           END                                                                           AS unmapped_code
    FROM lms.patron p
    LEFT JOIN code_map cm ON cm.code = upper(btrim(p.category))
    LEFT JOIN kind_map km ON km.kind = upper(btrim(p.patron_kind))
)
SELECT id,
       coalesce(mapped, CASE WHEN patron_kind <> 'PERSON' THEN coalesce(kind_category, %(unknown)s::smallint) END)
                                                                                    AS fixed,
       birth_date::timestamp AT TIME ZONE 'Europe/Oslo'                             AS born_at,
       ((birth_date - 1 + make_interval(years => %(adult_age)s))::date + 1)::timestamp AT TIME ZONE 'Europe/Oslo'
                                                                                    AS adult_at,
       ((birth_date - 1 + make_interval(years => %(too_old)s))::date + 1)::timestamp AT TIME ZONE 'Europe/Oslo'
                                                                                    AS too_old_at,
       CASE WHEN unmapped_code IS NULL THEN 0
            ELSE dense_rank() OVER (ORDER BY unmapped_code COLLATE "C") END::int     AS unmapped_id,
       unmapped_code
FROM patron
