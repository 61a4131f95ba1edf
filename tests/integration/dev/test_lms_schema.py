"""The reference schema is created idempotently on the real embedded PostgreSQL."""

import psycopg

from dev import lms_schema as schema

EXPECTED_TABLES = {"agency", "bokbasen_agency_settings", "material_type", "manifestation", "item", "patron", "loan"}


def _tables(dsn):
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lms'"
        ).fetchall()
    return {r[0] for r in rows}


def test_schema_has_every_table_of_the_source_contract(lms_dsn):
    assert _tables(lms_dsn) >= EXPECTED_TABLES


def test_applying_the_schema_twice_changes_nothing(lms_dsn):
    with psycopg.connect(lms_dsn) as conn:
        before = conn.execute("SELECT count(*) FROM lms.material_type").fetchone()[0]
    applied = schema.create_reference_schema(lms_dsn)
    applied_again = schema.create_reference_schema(lms_dsn)
    assert applied == applied_again == [p.name for p in schema.schema_files()]
    with psycopg.connect(lms_dsn) as conn:
        after = conn.execute("SELECT count(*) FROM lms.material_type").fetchone()[0]
    assert before == after == 17
    assert _tables(lms_dsn) >= EXPECTED_TABLES
