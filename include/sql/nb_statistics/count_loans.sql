-- The check's independent count: loans per library in the month, straight from lms.loan
-- (no join, no grouping by anything else). For every included library,
-- sum(antall_utlan in the file) + uten_isbn must equal this.
SELECT agency_id, count(*)::bigint AS loans
FROM lms.loan
WHERE loaned_at >= %(start_utc)s
  AND loaned_at <  %(end_utc)s
  AND agency_id = ANY (%(agency_ids)s)
GROUP BY agency_id
