-- Libraries with patron-registry settings (enabled or not), in agency order.
SELECT a.id AS agency_id,
       a.isil,
       a.name,
       s.enabled,
       s.sync_card_number,
       s.sync_pin
FROM lms.patron_registry_settings s
JOIN lms.agency a ON a.id = s.agency_id
ORDER BY a.id;
