UPDATE lms.library_card
SET active = true
WHERE card_number = %(card_number)s AND patron_id = %(patron_id)s AND NOT active
RETURNING card_number;
