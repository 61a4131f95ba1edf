-- Every agency with a Bokbasen settings row, enabled or not (disabled ones are listed in
-- the run summary as "disabled"). Agencies without a settings row are not configured.
SELECT a.id            AS agency_id,
       a.isil,
       a.name          AS agency_name,
       s.enabled,
       s.library_name,
       s.library_type,
       s.postal_code,
       s.municipality,
       s.county
FROM lms.agency a
JOIN lms.bokbasen_agency_settings s ON s.agency_id = a.id
ORDER BY a.id
