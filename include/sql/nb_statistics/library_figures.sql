-- Per included library that lent anything: loans in the month, loans without a valid ISBN
-- (uten_isbn), and the file's rows and loans.
WITH loans AS (
    SELECT t.agency_id,
           sum(t.loans)::bigint                                             AS loans,
           coalesce(sum(t.loans) FILTER (WHERE d.isbn13 IS NULL), 0)::bigint AS without_isbn
    FROM nb_month_loans t
    JOIN nb_title d ON d.id = t.manifestation_id
    GROUP BY 1
), file_rows AS (
    SELECT agency_id, count(*)::bigint AS rows, sum(loans)::bigint AS loans_with_isbn
    FROM nb_rows
    GROUP BY 1
)
SELECT l.agency_id, l.loans, l.without_isbn, coalesce(r.rows, 0) AS rows,
       coalesce(r.loans_with_isbn, 0) AS loans_with_isbn
FROM loans l
LEFT JOIN file_rows r ON r.agency_id = l.agency_id
ORDER BY l.agency_id
