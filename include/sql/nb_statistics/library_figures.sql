-- Per included library that lent anything: loans in the month, loans without a valid ISBN
-- (uten_isbn), and the file's rows and loans.
SELECT agency_id,
       sum(loans)::bigint                                                      AS loans,
       coalesce(sum(loans) FILTER (WHERE description IS NULL), 0)::bigint      AS without_isbn,
       count(*) FILTER (WHERE description IS NOT NULL)::bigint                 AS rows,
       coalesce(sum(loans) FILTER (WHERE description IS NOT NULL), 0)::bigint  AS loans_with_isbn
FROM nb_rows
GROUP BY agency_id
ORDER BY agency_id
