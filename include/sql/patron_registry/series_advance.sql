UPDATE lms.card_number_series
SET next_number = %(next_number)s
WHERE agency_id = %(agency_id)s AND kind = 'NATIONAL' AND first_number = %(first_number)s;
