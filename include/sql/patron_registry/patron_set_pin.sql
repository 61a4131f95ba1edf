UPDATE lms.patron
SET pin_encrypted = %(pin_encrypted)s,
    pin_must_change = %(pin_must_change)s
WHERE id = %(patron_id)s;
