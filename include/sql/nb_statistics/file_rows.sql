-- The data rows of the file, in file column order, sorted on every column (byte order,
-- COLLATE "C": the same data always gives the same bytes, whatever the database's locale).
-- The sort runs on numbers given in that order: each library's place by ISIL, the description's
-- number (month_titles.sql numbers the descriptions in the order of isbn, tittel, ordningsord,
-- utgivelsesaar, skjonn_fag, barn_voksen), the category label's place, then the loans. The
-- first three go into one bigint key (place < 2^23, description < 2^32, label place < 2^8), so
-- the sort compares one number in memory instead of reading every row's tuple.
-- Runs inside COPY ... TO STDOUT (FORMAT csv): PostgreSQL writes the CSV.
--   %(month)s            'YYYY-MM'
--   %(category_labels)s  the label of each category number (0-based), as an array
WITH description AS (
    SELECT DISTINCT description, isbn13, title, shelf_word, publication_year, skjonn_fag, barn_voksen
    FROM nb_title
    WHERE description IS NOT NULL
), library AS (
    SELECT id,
           isil,
           nullif(btrim(regexp_replace(name, '[[:cntrl:]]+', ' ', 'g')), '') AS name,
           rank() OVER (ORDER BY isil COLLATE "C")                            AS place
    FROM lms.agency
    WHERE id IN (SELECT agency_id FROM nb_rows)
), label AS (
    SELECT n - 1 AS category, label, rank() OVER (ORDER BY label COLLATE "C") AS place
    FROM unnest(%(category_labels)s::text[]) WITH ORDINALITY AS c(label, n)
)
SELECT %(month)s::text     AS maaned,
       a.isil,
       a.name              AS bibliotek,
       d.isbn13            AS isbn,
       d.title             AS tittel,
       d.shelf_word        AS ordningsord,
       d.publication_year  AS utgivelsesaar,
       d.skjonn_fag,
       d.barn_voksen,
       c.label             AS lanerkategori,
       r.loans             AS antall_utlan
FROM nb_rows r
JOIN description d ON d.description = r.description
JOIN library a ON a.id = r.agency_id
JOIN label c ON c.category = r.category
ORDER BY (a.place << 40) | (r.description::bigint << 8) | c.place, r.loans
