-- Every library (agency) with its NB statistics consent, if any. The pipeline decides who is
-- included: both consents given and a well-formed ISIL; everyone else is listed in the
-- manifest as excluded, with the reason.
SELECT a.id                  AS agency_id,
       a.isil,
       a.name,
       c.delivery_consent,
       c.publication_consent,
       c.decided_at
FROM lms.agency a
LEFT JOIN lms.nb_statistics_consent c ON c.agency_id = a.id
ORDER BY a.isil COLLATE "C", a.id
