-- A national card for a patron (issued from the series, or the registry's).
INSERT INTO lms.library_card (card_number, patron_id, agency_id, kind, active, issued_at)
VALUES (%(card_number)s, %(patron_id)s, %(agency_id)s, 'NATIONAL', true, now())
ON CONFLICT (card_number) DO NOTHING
RETURNING card_number;
