"""Run through ``./run test`` by test_run_script.py; the suite does not collect it
(it does not match ``test_*.py``)."""

import pytest
from django.db import connection


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_database_is_postgresql():
    assert connection.vendor == "postgresql"


def test_an_ordinary_test_runs_everywhere():
    assert connection.vendor in {"postgresql", "sqlite"}
