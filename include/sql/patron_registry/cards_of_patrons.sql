-- The library cards of some patrons, newest first.
SELECT card_number, patron_id, agency_id, kind, active, issued_at
FROM lms.library_card
WHERE patron_id = ANY(%(patron_ids)s)
ORDER BY patron_id, issued_at DESC, card_number;
