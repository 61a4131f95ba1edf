-- A patron's registry-owned fields, locked for the import's update.
SELECT p.id,
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
       p.pin_must_change,
       q.status AS queue_status
FROM lms.patron p
LEFT JOIN lms.patron_registry_queue q ON q.patron_id = p.id
WHERE p.id = %(patron_id)s
FOR UPDATE OF p;
