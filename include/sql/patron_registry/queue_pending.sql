-- One library's queued patrons (everything not yet synced), oldest change first, with what
-- the night job may send. Consent is read here and checked before anything leaves.
SELECT q.patron_id,
       q.agency_id,
       q.status,
       q.changed_at,
       q.encrypted_pin AS queued_pin,
       q.last_sync,
       q.attempt_started_at,
       q.failed_attempts,
       p.registry_consent AS consent,
       p.national_id,
       p.name,
       p.birth_date,
       p.gender,
       p.address_line1,
       p.address_line2,
       p.postal_code,
       p.city,
       p.country,
       p.email,
       p.phone,
       p.pin_encrypted,
       p.pin_must_change
FROM lms.patron_registry_queue q
JOIN lms.patron p ON p.id = q.patron_id
WHERE q.agency_id = %(agency_id)s
  AND q.status IN ('new', 'edited', 'delete')
ORDER BY q.changed_at, q.patron_id;
