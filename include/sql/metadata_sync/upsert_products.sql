-- One page of products, upserted by EAN in the caller's transaction (one row per EAN: the caller
-- keeps the last occurrence of an EAN within the page). An update replaces what was known and
-- revives a deleted record; a delete marks the record deleted and keeps its other values (a
-- delete for an EAN never seen is kept as a deleted record). Returns per EAN whether it was new.
INSERT INTO pipeline_state.bokbasen_metadata AS m (
    ean, record_reference, notification_type, deleted, title, subtitle, authors, contributors, language,
    product_form, format, publication_date, publication_date_format, publication_year, publisher, audience,
    deleted_at
)
SELECT t.ean, t.record_reference, t.notification_type, t.deleted, t.title, t.subtitle,
       ARRAY(SELECT jsonb_array_elements_text(t.authors::jsonb)), t.contributors::jsonb, t.language,
       t.product_form, t.format, t.publication_date, t.publication_date_format, t.publication_year,
       t.publisher, t.audience, CASE WHEN t.deleted THEN now() END
FROM unnest(
    %(ean)b::text[], %(record_reference)b::text[], %(notification_type)b::text[], %(deleted)b::boolean[],
    %(title)b::text[], %(subtitle)b::text[], %(authors)b::text[], %(contributors)b::text[],
    %(language)b::text[], %(product_form)b::text[], %(format)b::text[], %(publication_date)b::text[],
    %(publication_date_format)b::text[], %(publication_year)b::integer[], %(publisher)b::text[],
    %(audience)b::text[]
) AS t(ean, record_reference, notification_type, deleted, title, subtitle, authors, contributors, language,
       product_form, format, publication_date, publication_date_format, publication_year, publisher, audience)
ON CONFLICT (ean) DO UPDATE SET
    record_reference = EXCLUDED.record_reference,
    notification_type = EXCLUDED.notification_type,
    deleted = EXCLUDED.deleted,
    title = CASE WHEN EXCLUDED.deleted THEN coalesce(EXCLUDED.title, m.title) ELSE EXCLUDED.title END,
    subtitle = CASE WHEN EXCLUDED.deleted THEN coalesce(EXCLUDED.subtitle, m.subtitle) ELSE EXCLUDED.subtitle END,
    authors = CASE WHEN EXCLUDED.deleted AND cardinality(EXCLUDED.authors) = 0 THEN m.authors
                   ELSE EXCLUDED.authors END,
    contributors = CASE WHEN EXCLUDED.deleted AND EXCLUDED.contributors = '[]'::jsonb THEN m.contributors
                        ELSE EXCLUDED.contributors END,
    language = CASE WHEN EXCLUDED.deleted THEN coalesce(EXCLUDED.language, m.language) ELSE EXCLUDED.language END,
    product_form = CASE WHEN EXCLUDED.deleted THEN coalesce(EXCLUDED.product_form, m.product_form)
                        ELSE EXCLUDED.product_form END,
    format = CASE WHEN EXCLUDED.deleted THEN coalesce(EXCLUDED.format, m.format) ELSE EXCLUDED.format END,
    publication_date = CASE WHEN EXCLUDED.deleted THEN coalesce(EXCLUDED.publication_date, m.publication_date)
                            ELSE EXCLUDED.publication_date END,
    publication_date_format = CASE WHEN EXCLUDED.deleted
                                   THEN coalesce(EXCLUDED.publication_date_format, m.publication_date_format)
                                   ELSE EXCLUDED.publication_date_format END,
    publication_year = CASE WHEN EXCLUDED.deleted THEN coalesce(EXCLUDED.publication_year, m.publication_year)
                            ELSE EXCLUDED.publication_year END,
    publisher = CASE WHEN EXCLUDED.deleted THEN coalesce(EXCLUDED.publisher, m.publisher) ELSE EXCLUDED.publisher END,
    audience = CASE WHEN EXCLUDED.deleted THEN coalesce(EXCLUDED.audience, m.audience) ELSE EXCLUDED.audience END,
    updated_at = now(),
    deleted_at = CASE WHEN EXCLUDED.deleted THEN coalesce(m.deleted_at, now()) END
RETURNING ean, (xmax = 0) AS inserted
