-- Loans per agency in a window: the independent check used by tests and the run log.
SELECT agency_id, count(*) AS loans
FROM lms.loan
WHERE loaned_at >= %(start_utc)s AND loaned_at < %(end_utc)s
GROUP BY agency_id
ORDER BY agency_id
