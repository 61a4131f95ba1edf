"""Property-based: arbitrary strings, nulls and extreme values in every input field.

The builder never crashes, every payload it produces is accepted by
``LoanReport.model_validate_json``, ``read == reported + sum(excluded)`` per agency, and the
bytes equal the row-by-row oracle's.
"""

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from library_integrations.common.oslo_time import oslo_day_window
from library_integrations.common.reference_data import load_reference_tsv
from library_integrations.library_system.contracts import LOAN_ROW_SCHEMA, AgencySettings
from library_integrations.pipelines.loan_report.report.builder import ReportBuilder
from library_integrations.pipelines.loan_report.report.formats import load_material_formats
from library_integrations.pipelines.loan_report.report.models import LoanReport

from .oracle import oracle

DAY = date(2026, 10, 25)  # a 25-hour day
START, END = oslo_day_window(DAY)
INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
AGENCY_IDS = [1, 2, 3, 2**63 - 1]


def maybe(strategy, *examples):
    return st.one_of(st.none(), strategy, *(st.just(e) for e in examples))


texts = st.text(max_size=40)
isbns = maybe(
    texts,
    "978-82-03-36418-1",
    "0-8044-2957-X",
    "979-0-3452-4680-5",
    "9770029128009",
    "M-2306-7118-7",
    "0317-8471",
    "978-82-03-36418-2",
    " ",
)
codes = maybe(texts, "BOOK", " ebook ", "AUDIOBOOK_DAISY", "SERIAL", "DVD", "VINYL", "")
timestamps = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
    st.integers(-3600 * 10**6, (END - START) // timedelta(microseconds=1) + 3600 * 10**6).map(
        lambda us: START + timedelta(microseconds=us)
    ),
    st.just(END - timedelta(microseconds=1)),
    st.just(END),
    st.just(START),
)
rows = st.fixed_dictionaries(
    {
        "loan_id": st.one_of(st.none(), INT64, st.integers(1, 20)),
        "agency_id": st.one_of(st.none(), st.sampled_from(AGENCY_IDS), INT64),
        "loaned_at": timestamps,
        "isbn": isbns,
        "title": maybe(texts, "Sult", ' "quoted" ', "\x00\x1f\\"),
        "authors": maybe(st.lists(maybe(texts, "Hamsun, Knut", " "), max_size=4)),
        "language": maybe(texts, "nob", " NNO ", "no", "nøb", "İtr"),
        "material_type_code": codes,
        "patron_kind": maybe(texts, "PERSON", " person", "ORGANISATION", "LIBRARY"),
        "gender": maybe(texts, "M", "f", " K ", "X"),
        "age": st.one_of(st.none(), INT32, st.integers(-2, 125)),
    }
)
agency_settings = st.builds(
    AgencySettings,
    agency_id=st.sampled_from(AGENCY_IDS) | INT64,
    isil=maybe(texts, "NO-2030100", " no-1234567 ", "NO-12", "XX-1234567"),
    agency_name=maybe(texts),
    enabled=st.booleans() | st.just(True),
    library_name=maybe(texts, "Deichman Bjørvika", "  "),
    library_type=maybe(texts, "Folkebibliotek"),
    postal_code=maybe(texts, "0150", "5003", "9170", "150"),
    municipality=maybe(texts, "Oslo", "Bergen", "Herøy", "0301"),
    county=maybe(texts, "Oslo", "Vestland", "03", "Viken"),
)


@pytest.fixture(scope="module")
def context(reference_dir):
    return load_material_formats(), load_reference_tsv(reference_dir)


@given(
    agencies=st.lists(agency_settings, max_size=4, unique_by=lambda a: a.agency_id),
    loan_rows=st.lists(rows, max_size=25),
    chunk=st.integers(1, 10),
)
def test_builder_never_crashes_and_agrees_with_the_oracle(context, agencies, loan_rows, chunk):
    formats, reference = context
    builder = ReportBuilder(
        DAY, agencies, formats=formats, reference=reference, installation_namespace="prop"
    )
    data = pa.Table.from_pylist(loan_rows, schema=pa.schema([f.with_nullable(True) for f in LOAN_ROW_SCHEMA]))
    for offset in range(0, data.num_rows, chunk):
        builder.add_chunk(data.slice(offset, chunk))
    results = builder.finish()
    assert [r.agency_id for r in results] == [a.agency_id for a in agencies]

    expected = oracle(DAY, agencies, loan_rows, formats=formats, reference=reference, installation="prop")
    for result in results:
        q = result.quality
        assert q.read == q.reported + sum(q.excluded.values())
        assert all(count > 0 for count in q.excluded.values())
        if result.error is None:
            assert result.payload is not None
            report = LoanReport.model_validate_json(result.payload)
            assert len(report.loans) == result.loan_count == q.reported
        else:
            assert result.payload is None and result.loan_count == 0 and q.reported == 0
        want = expected[result.agency_id]
        assert result.payload == want.payload
        assert (q.read, q.excluded, q.unknown_material_types) == (
            want.read,
            want.excluded,
            want.unknown_material_types,
        )
    assert builder.rows_seen == len(loan_rows)
    assert builder.rows_ignored == sum(
        1 for r in loan_rows if r["agency_id"] not in {a.agency_id for a in agencies}
    )
