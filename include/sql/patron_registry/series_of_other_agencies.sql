-- Another library's national series that contains a number (a misconfigured overlap).
SELECT agency_id
FROM lms.card_number_series
WHERE kind = 'NATIONAL'
  AND agency_id <> %(agency_id)s
  AND %(card_number)s BETWEEN first_number AND last_number
LIMIT 1;
