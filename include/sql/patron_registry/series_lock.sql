-- A library's national number series, locked until the transaction ends (one issuer at a time).
SELECT first_number, last_number, next_number
FROM lms.card_number_series
WHERE agency_id = %(agency_id)s AND kind = 'NATIONAL'
ORDER BY first_number
FOR UPDATE;
