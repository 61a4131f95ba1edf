-- Title, authors and language of the given EANs (records not deleted), for the loan report.
SELECT ean, title, authors, language
FROM pipeline_state.bokbasen_metadata
WHERE ean = ANY(%(eans)s::text[]) AND NOT deleted
