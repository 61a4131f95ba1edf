-- Step 3b: the month per library x description (see month_titles.sql) x borrower category
-- label: the file's rows, and per library one row per category with description null for the
-- loans without a valid ISBN (uten_isbn, not in the file).
--   %(label_numbers)s   per category number (0-based), the number of the first category with the
--                       same label: categories sharing a label share a row
CREATE TEMP TABLE nb_rows ON COMMIT DROP AS
SELECT g.agency_id,
       t.description,
       (%(label_numbers)s::smallint[])[g.category + 1] AS category,
       sum(g.loans)::bigint                             AS loans
FROM nb_month_loans g
JOIN nb_month_manifestation i ON i.item_id = g.item_id
JOIN nb_title t ON t.id = i.manifestation_id
GROUP BY 1, 2, 3
