-- Step 2c: catalogued ISBN value -> ISBN-13 (null: not an ISBN), filled by COPY from Python.
CREATE TEMP TABLE nb_isbn (raw text PRIMARY KEY, isbn13 text) ON COMMIT DROP
