-- Borrower category codes the mapping does not know, with the loans each covers (for the log).
SELECT u.unmapped_code AS code, sum(t.loans)::bigint AS loans
FROM nb_month_loans t
JOIN (SELECT DISTINCT unmapped_id, unmapped_code FROM nb_patron WHERE unmapped_id > 0) u
     ON u.unmapped_id = t.unmapped_id
GROUP BY 1
ORDER BY 2 DESC, u.unmapped_code COLLATE "C"
