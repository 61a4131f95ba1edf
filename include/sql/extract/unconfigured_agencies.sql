-- Agencies that lent something in the window but have no Bokbasen settings row (or do
-- not exist in lms.agency at all): their loans are not reported, and the extract names
-- each of them with its loan count. An agency that is deliberately not reported gets a
-- settings row with enabled = false instead, and is listed as disabled.
--   %(start_utc)s, %(end_utc)s : the Oslo calendar day as a half-open UTC window
-- Counting first (an index-only range scan of loan_loaned_at_agency_idx), then joining the
-- few agencies, keeps this cheap beside the extract itself.
WITH lent AS (
    SELECT l.agency_id, count(*) AS loans
    FROM lms.loan l
    WHERE l.loaned_at >= %(start_utc)s
      AND l.loaned_at <  %(end_utc)s
    GROUP BY l.agency_id
)
SELECT lent.agency_id,
       a.isil,
       a.name AS agency_name,
       lent.loans
FROM lent
LEFT JOIN lms.agency a ON a.id = lent.agency_id
WHERE NOT EXISTS (SELECT 1 FROM lms.bokbasen_agency_settings s WHERE s.agency_id = lent.agency_id)
ORDER BY lent.agency_id
