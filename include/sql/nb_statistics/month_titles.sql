-- Step 3: the descriptive columns of each manifestation lent in the month, computed once per
-- manifestation. Text is written as catalogued, with control characters (line breaks, tabs)
-- turned into a space and surrounding whitespace removed, so every record of the file is
-- exactly one line; empty text is null (an empty field).
--   %(fiction)s, %(non_fiction)s, %(fiction_unknown)s         labels of skjonn_fag
--   %(children)s, %(adult)s, %(audience_unknown)s              labels of barn_voksen
CREATE TEMP TABLE nb_title ON COMMIT DROP AS
SELECT m.id,
       x.isbn13,
       nullif(btrim(regexp_replace(m.title, '[[:cntrl:]]+', ' ', 'g')), '')      AS title,
       nullif(btrim(regexp_replace(m.shelf_word, '[[:cntrl:]]+', ' ', 'g')), '') AS shelf_word,
       m.publication_year,
       CASE m.fiction WHEN true THEN %(fiction)s::text WHEN false THEN %(non_fiction)s::text
                      ELSE %(fiction_unknown)s::text END                          AS skjonn_fag,
       CASE upper(btrim(m.audience)) WHEN 'CHILDREN' THEN %(children)s::text WHEN 'ADULT' THEN %(adult)s::text
                                     ELSE %(audience_unknown)s::text END          AS barn_voksen
FROM lms.manifestation m
LEFT JOIN nb_isbn x ON x.raw = m.isbn
WHERE m.id IN (SELECT manifestation_id FROM nb_month_loans)
