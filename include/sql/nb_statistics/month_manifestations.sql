-- Step 2a: the manifestation of every item lent in the month by an included library.
CREATE TEMP TABLE nb_month_manifestation ON COMMIT DROP AS
SELECT i.id AS item_id, i.manifestation_id
FROM lms.item i
WHERE i.id IN (SELECT item_id FROM nb_month_loans)
