-- Step 3a: the descriptive columns of each manifestation lent in the month, computed once per
-- manifestation. Text is written as catalogued, with control characters (line breaks, tabs)
-- turned into a space and surrounding whitespace removed, so every record of the file is
-- exactly one line; empty text is null (an empty field).
-- `description` numbers the distinct descriptions (ISBN-13 and descriptive columns) in the
-- file's sort order (byte order, COLLATE "C"): two catalogue forms of one ISBN with the same
-- description share a number, so the file's rows are grouped and sorted on integers. Null when
-- the manifestation has no valid ISBN (its loans count as uten_isbn).
--   %(fiction)s, %(non_fiction)s, %(fiction_unknown)s         labels of skjonn_fag
--   %(children)s, %(adult)s, %(audience_unknown)s              labels of barn_voksen
CREATE TEMP TABLE nb_title ON COMMIT DROP AS
WITH described AS (
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
    WHERE m.id IN (SELECT manifestation_id FROM nb_month_manifestation)
)
SELECT d.*,
       CASE WHEN d.isbn13 IS NOT NULL THEN
           dense_rank() OVER (ORDER BY d.isbn13 COLLATE "C", d.title COLLATE "C", d.shelf_word COLLATE "C",
                                       d.publication_year, d.skjonn_fag COLLATE "C", d.barn_voksen COLLATE "C")
       END::int AS description
FROM described d
