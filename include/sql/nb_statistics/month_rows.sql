-- Step 4: the rows of the file: one per library x ISBN-13 x descriptive columns x borrower
-- category label (two catalogue forms of one ISBN fall into one row). Loans without a valid
-- ISBN are not here: they are counted per library as uten_isbn (library_figures.sql).
--   %(category_labels)s   the label of each category number (0-based), as an array
CREATE TEMP TABLE nb_rows ON COMMIT DROP AS
SELECT t.agency_id,
       d.isbn13,
       d.title,
       d.shelf_word,
       d.publication_year,
       d.skjonn_fag,
       d.barn_voksen,
       c.label              AS category,
       sum(t.loans)::bigint AS loans
FROM nb_month_loans t
JOIN nb_title d ON d.id = t.manifestation_id
JOIN unnest(%(category_labels)s::text[]) WITH ORDINALITY AS c(label, n) ON c.n - 1 = t.category
WHERE d.isbn13 IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
