SELECT patron_id, agency_id, kind, active
FROM lms.library_card
WHERE card_number = %(card_number)s;
