"""The margin report: revenue, provider cost and margin per customer, batched."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoices.models import Invoice
from invoices.ops import reads
from invoices.ops.margins import Month
from tests.invoices.billing_fixtures import at
from tests.invoices.ops.conftest import ai_calls, build_book

pytestmark = pytest.mark.django_db

URL = "/admin/ops/margins/"
OCTOBER, NOVEMBER = Month(2026, 10), Month(2026, 11)


def test_closed_month_revenue_is_the_invoices_and_cost_the_events(book):
    report = reads.margin_report(month=OCTOBER, day=at(2026, 11, 5).date())
    by_name = {r.customer.external_id: r for r in report.rows}
    invoiced = {i.customer.external_id: i.total for i in Invoice.objects.all()}

    assert by_name["alpha"].revenue == invoiced["alpha"]
    assert by_name["alpha"].cost == Decimal("3.5")  # 3 calls at 1, one at 0.5
    assert by_name["beta"].cost == Decimal("300.5")
    assert by_name["beta"].losing and not by_name["alpha"].losing
    assert [r.customer.external_id for r in report.rows] == ["beta", "alpha"]
    assert not report.estimated
    # alpha's 5,200 tasks pass 5 seats × 1,000; beta's too: both hybrid and over.
    assert (report.allowance.over, report.allowance.hybrid) == (2, 2)


def test_open_month_revenue_is_the_upcoming_invoice_of_each_customer(book):
    from invoices.selectors.preview import upcoming_invoice

    report = reads.margin_report(month=NOVEMBER, day=at(2026, 11, 5).date())
    by_name = {r.customer.external_id: r for r in report.rows}
    for contract in book:
        upcoming = upcoming_invoice(customer=contract.customer, at=at(2026, 11, 5, 12))
        assert by_name[contract.customer.external_id].revenue == upcoming.rated.total
    assert by_name["alpha"].cost == Decimal("0.25") and report.estimated
    # November: no tasks yet, under the allowance; October's share is the previous one.
    assert (report.allowance.over, report.allowance.hybrid) == (0, 2)
    assert (report.allowance_previous.over, report.allowance_previous.hybrid) == (2, 2)


def test_cost_counts_events_the_rollup_has_not_read_yet(book):
    alpha = book[0].customer
    ai_calls(alpha, cost="7", when=at(2026, 10, 25), received_at=at(2026, 11, 5, 11))

    report = reads.margin_report(month=OCTOBER, day=at(2026, 11, 5).date())

    assert {r.customer.external_id: r.cost for r in report.rows}["alpha"] == Decimal("10.5")


def test_page_puts_money_losing_accounts_on_top_highlighted(admin_client, book):
    page = admin_client.get(URL, {"month": "2026-10"})

    html = page.content.decode()
    assert page.status_code == 200
    assert html.index('data-customer="beta"') < html.index('data-customer="alpha"')
    beta_row = html[html.index('<tr class="ops-losing" data-customer="beta"'):]
    assert "losing money" in beta_row.split("</tr>")[0]
    assert '<tr class="" data-customer="alpha"' in html
    assert "0000000" not in html
    assert 'id="margin-chart-data"' in html and "chart.umd.min.js" in html
    assert "<script>" not in html.split("</head>")[1]  # no inline script in the body


def test_columns_sort_both_ways_with_losing_accounts_first(admin_client, db, clock):
    build_book(["a1", "a2", "a3"], losing=("a2",))
    for direction, expected in (("asc", ["a2", "a1", "a3"]), ("desc", ["a2", "a3", "a1"])):
        html = admin_client.get(URL, {"month": "2026-10", "sort": "customer",
                                      "dir": direction}).content.decode()
        found = sorted(expected, key=lambda name: html.index(f'data-customer="{name}"'))
        assert found == expected


def test_query_count_does_not_grow_with_the_number_of_customers(admin_client, db, clock):
    def queries(month: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            # refresh=1: computed in the request, not the kept copy (kept.py)
            assert admin_client.get(URL, {"month": month, "refresh": "1"}).status_code == 200
        return len(captured)

    version = build_book([f"c{i}" for i in range(2)])[0].plan_version
    few = queries("2026-10"), queries("2026-11")
    build_book([f"d{i}" for i in range(18)], version=version)
    many = queries("2026-10"), queries("2026-11")

    assert Invoice.objects.count() == 20
    assert many == few


def test_csv_exports_every_row_with_exact_decimals(admin_client, book):
    response = admin_client.get(URL, {"month": "2026-10", "export": "margins"})

    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().strip().splitlines()
    assert lines[0].startswith("customer,name,currency,revenue,estimated,provider_cost_USD")
    assert lines[1].startswith("beta,") and lines[1].endswith(",yes")
    assert ",300.500000000000," in lines[1] or ",300.5," in lines[1]
    models = admin_client.get(URL, {"month": "2026-10", "export": "models"}).content.decode()
    assert models.splitlines()[1] == "gpt-4.1-mini,8,8000,304,0"
    renewals = admin_client.get(URL, {"export": "renewals"}).content.decode()
    assert renewals.splitlines()[0].startswith("customer,contract,plan_version,term_ends")


def test_customer_drill_down_shows_the_seat_tail_and_agent_share(admin_client, book):
    beta = book[1].customer
    page = admin_client.get(f"/admin/ops/customers/{beta.pk}/", {"month": "2026-10"})

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="seat-chart-data"' in html and "user0@beta.test" in html
    report = page.context["report"]
    assert report.tail.seats[0][1] == Decimal(100) and len(report.tail.seats) == 4
    assert report.initiated_shares == {"agent": Decimal("99.8"), "user": Decimal("0.2")}
    seats = admin_client.get(f"/admin/ops/customers/{beta.pk}/",
                             {"month": "2026-10", "export": "seats"}).content.decode()
    assert seats.splitlines()[0] == "seat,events,total_tokens,provider_cost_USD"
    assert len(seats.strip().splitlines()) == 5


def test_report_is_kept_and_refreshed_by_the_worker_when_the_book_changes(
        admin_client, book, django_capture_on_commit_callbacks, monkeypatch):
    from celery import current_app

    from invoices.ops.tasks import refresh_margin_book
    from tests.invoices.billing_fixtures import add_seat

    def report():
        with CaptureQueriesContext(connection) as captured:
            found = reads.margin_report(month=NOVEMBER, day=at(2026, 11, 5).date())
        return found, len(captured)

    first, computing = report()
    again, cached = report()
    assert cached < computing - 5 and again.rows == first.rows

    alpha = book[0].customer
    add_seat(alpha, "new@alpha.test", at(2026, 11, 2))
    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        stale, _ = report()
        report()  # one refresh at a time
    assert stale.rows == first.rows  # served as kept while the worker reads it again
    assert sent == [("invoices.tasks.refresh_margin_book", ["2026-11", "2026-11-05"])]

    refresh_margin_book(*sent[0][1])
    fresh, _ = report()
    revenue = {r.customer.external_id: r.revenue for r in fresh.rows}
    assert revenue["alpha"] > {r.customer.external_id: r.revenue for r in first.rows}["alpha"]
    page = admin_client.get(URL, {"refresh": "1"})
    assert page.status_code == 200 and b'id="computed-at"' in page.content


def test_beat_keeps_this_and_last_months_reports_warm_so_no_view_computes_them(
        book, monkeypatch):
    import datetime as dt

    from invoices.ops import kept
    from invoices.ops.tasks import keep_margin_books
    from tests.invoices.billing_fixtures import add_seat

    now = at(2026, 11, 5, 12)
    assert reads.keep_margin_books(now=now) == [NOVEMBER, OCTOBER]
    computed = []
    monkeypatch.setattr(reads, "compute_book", lambda **kw: computed.append(kw) or 1 / 0)
    # A view finds both kept and fresh: nothing rated in the request.
    for month in (NOVEMBER, OCTOBER):
        assert reads.margin_report(month=month, day=now.date()).rows
    assert computed == []
    # Nothing changed and younger than FRESH until the next run: left as kept.
    monkeypatch.undo()
    assert reads.keep_margin_books(now=now + dt.timedelta(seconds=30)) == []
    # About to go stale before the next run, or the book changed: computed again.
    soon_stale = now + kept.FRESH - dt.timedelta(seconds=kept.WARM_SECONDS)
    assert reads.keep_margin_books(now=soon_stale) == [NOVEMBER, OCTOBER]
    add_seat(book[0].customer, "new@alpha.test", at(2026, 11, 2))
    with time_machine.travel(soon_stale + dt.timedelta(seconds=10), tick=False):  # young
        assert keep_margin_books() == ["2026-11", "2026-10"]


def test_keeping_the_reports_warm_is_a_beat_job_within_the_fresh_window():
    from billing_site.celery import app
    from billing_site.schedules import SCHEDULES
    from invoices.ops import kept

    job = next(s for s in SCHEDULES if s["task"] == "invoices.tasks.keep_margin_books")
    assert job["every"] == kept.WARM_SECONDS < kept.FRESH.total_seconds()
    assert "invoices.tasks.keep_margin_books" in app.tasks
