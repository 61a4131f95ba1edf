-- The data rows of the file, in file column order, sorted on every column (byte order,
-- COLLATE "C": the same data always gives the same bytes, whatever the database's locale).
-- Runs inside COPY ... TO STDOUT (FORMAT csv): PostgreSQL writes the CSV.
--   %(month)s   'YYYY-MM'
SELECT %(month)s::text                                                   AS maaned,
       a.isil,
       nullif(btrim(regexp_replace(a.name, '[[:cntrl:]]+', ' ', 'g')), '') AS bibliotek,
       r.isbn13                                                          AS isbn,
       r.title                                                           AS tittel,
       r.shelf_word                                                      AS ordningsord,
       r.publication_year                                                AS utgivelsesaar,
       r.skjonn_fag,
       r.barn_voksen,
       r.category                                                        AS lanerkategori,
       r.loans                                                           AS antall_utlan
FROM nb_rows r
JOIN lms.agency a ON a.id = r.agency_id
ORDER BY a.isil COLLATE "C", r.isbn13 COLLATE "C", r.title COLLATE "C", r.shelf_word COLLATE "C",
         r.publication_year, r.skjonn_fag COLLATE "C", r.barn_voksen COLLATE "C", r.category COLLATE "C",
         r.loans
