"""The NB statistics tests share one generated library system per module (see :mod:`.library`)."""

import pytest

from tests.integration.nb_statistics.library import NbLibrary, make_library


@pytest.fixture(scope="module")
def nb_library(lms_dsn) -> NbLibrary:
    return make_library(lms_dsn)
