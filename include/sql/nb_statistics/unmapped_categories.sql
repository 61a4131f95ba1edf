-- Borrower category codes the mapping does not know, with the loans each covers (for the log).
SELECT unmapped_code AS code, sum(loans)::bigint AS loans
FROM nb_month_loans
WHERE unmapped_code IS NOT NULL
GROUP BY 1
ORDER BY 2 DESC, unmapped_code COLLATE "C"
