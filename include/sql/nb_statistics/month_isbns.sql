-- Step 2b: every distinct catalogued ISBN value of the month's manifestations (each is
-- normalised once, in Python with python-stdnum, and copied back into nb_isbn).
SELECT DISTINCT m.isbn
FROM lms.manifestation m
WHERE m.id IN (SELECT manifestation_id FROM nb_month_manifestation)
  AND m.isbn IS NOT NULL
