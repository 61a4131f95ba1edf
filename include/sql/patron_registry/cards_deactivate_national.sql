-- Deactivate a patron's active national cards, except the one to keep (NULL: all of them).
UPDATE lms.library_card
SET active = false
WHERE patron_id = %(patron_id)s
  AND kind = 'NATIONAL'
  AND active
  AND (%(keep)s::text IS NULL OR card_number <> %(keep)s::text)
RETURNING card_number;
