"""On PostgreSQL a read is given the rollup cutoff as a literal and checks it against the
watermark its own snapshot sees: a run that commits in between makes it read again."""

import datetime as dt

import pytest

from tests.factories import CustomerFactory, EventFactory, MetricFactory
from usage import measure
from usage.rollups import rollup_usage
from usage.selectors import usage_breakdown, usage_totals

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

T0 = dt.datetime(2026, 10, 5, 12, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def acme():
    MetricFactory(code="tokens", event_type="ai.call", aggregation="sum", field="tokens")
    customer = CustomerFactory()
    for n in range(3):
        EventFactory(customer=customer, event_type="ai.call", timestamp=T0 + n * HOUR,
                     model="gpt", properties={"tokens": 10})
    rollup_usage(now=T0 + 5 * HOUR)
    return customer


def test_a_read_that_saw_another_watermark_reads_again(acme, monkeypatch):
    # As if the first look at the watermark came before the run: with that cutoff every
    # event would be read raw on top of the rows the statement sees.
    looks = iter([measure.NOTHING_ROLLED_UP])
    real = measure.watermark_until
    monkeypatch.setattr(measure, "watermark_until", lambda: next(looks, None) or real())
    statements = []
    read = measure._measure_sql
    monkeypatch.setattr(measure, "_measure_sql", lambda *a: statements.append(a) or read(*a))

    assert usage_totals(customer=acme, start=T0, end=T0 + 4 * HOUR)["tokens"] == 30
    assert len(statements) == 2


def test_a_read_that_keeps_missing_the_watermark_holds_the_job_off(acme, monkeypatch):
    monkeypatch.setattr(measure, "_ATTEMPTS", 0)  # straight to the locked read

    assert usage_totals(customer=acme, start=T0, end=T0 + 4 * HOUR)["tokens"] == 30
    assert usage_breakdown(customer=acme, start=T0, end=T0 + 4 * HOUR).by_model[0].calls == 3
