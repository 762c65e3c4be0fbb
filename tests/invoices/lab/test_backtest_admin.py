"""The backtest admin: run form, progress bar, side-by-side results, comparison, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.urls import reverse

from invoices.lab.backtest_service import backtest_create, backtest_run
from invoices.lab.models import Backtest
from plans.models import PlanVersion
from tests.invoices.lab.book import AS_OF, build_book

pytestmark = pytest.mark.django_db


def done_backtest(*, now=AS_OF, **fields) -> Backtest:
    fields = {"plan": "team", "plan_version": 2, "periods": 1, **fields}
    backtest = backtest_create(now=now, **fields)
    return backtest_run(backtest_id=backtest.pk, now=AS_OF)


def test_the_run_form_records_and_queues_a_backtest(admin_client,
                                                     django_capture_on_commit_callbacks):
    _plan, _v1, v2 = build_book()
    url = reverse("admin:lab_backtest_add")
    page = admin_client.get(url)
    assert page.status_code == 200 and b"Run backtest" in page.content
    with time_machine.travel(AS_OF, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"plan_version": v2.pk, "periods": 2})
    backtest = Backtest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:lab_backtest_detail", args=[backtest.pk])
    assert backtest.status == Backtest.Status.DONE and backtest.results.count() == 6


def test_the_run_form_shows_the_services_refusal_on_the_field(admin_client):
    build_book()
    other = PlanVersion.objects.get(plan__code="team", version=1)
    response = admin_client.post(reverse("admin:lab_backtest_add"),
                                 {"plan_version": other.pk, "periods": 99})
    assert response.status_code == 200 and not Backtest.objects.exists()
    assert "periods" in response.context["form"].errors


def test_the_list_shows_a_progress_bar(admin_client):
    build_book()
    queued = backtest_create(plan="team", plan_version=2, periods=1, now=AS_OF)
    Backtest.objects.filter(pk=queued.pk).update(status="running", customers_total=4,
                                                 customers_done=1)
    page = admin_client.get(reverse("admin:lab_backtest_changelist")).content.decode()
    assert '<progress class="backtest-progress" max="1" value="0.2500"' in page
    assert "Run backtest" in page


def test_the_detail_page_shows_current_and_candidate_side_by_side(admin_client):
    build_book()
    backtest = done_backtest()
    page = admin_client.get(reverse("admin:lab_backtest_change", args=[backtest.pk]),
                            follow=True).content.decode()
    assert 'value="1"' in page  # the progress bar, full
    # whale: 30.00 → 265.00, provider cost 100.00: margin -70.00 before, 165.00 after.
    assert ("<td>whale</td>" in page and "<td class=\"num\">30.00</td><td class=\"num\">265.00"
            "</td><td class=\"num change\">235.00</td>" in page)
    assert "-70.00 (-233.3%)" in page and "165.00 (62.3%)" in page
    assert "<strong>2</strong> would pay more" in page


def test_two_backtests_compare_side_by_side(admin_client):
    build_book()
    first = done_backtest()
    second = done_backtest(plan_version=1, now=AS_OF + dt.timedelta(minutes=5))
    response = admin_client.post(reverse("admin:lab_backtest_changelist"), {
        "action": "compare_two", "_selected_action": [first.pk, second.pk]})
    page = admin_client.get(response["Location"]).content.decode()
    assert "team v2" in page and "team v1" in page
    # whale: 30.00 now, 265.00 on v2, 30.00 on v1 (no change).
    assert ("<td>whale</td><td class=\"num\">30.00</td><td class=\"num\">100.00</td>"
            "\n  <td class=\"num\">265.00</td><td class=\"num\">235.00</td>"
            "<td class=\"num\">30.00</td><td class=\"num\">0.00</td>") in page


def test_csv_export_has_exact_decimals_per_customer_period(admin_client):
    build_book()
    backtest = done_backtest()
    response = admin_client.get(reverse("admin:lab_backtest_csv", args=[backtest.pk]))
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    whale = next(r for r in rows if r["customer"] == "whale")
    assert {k: whale[k] for k in ("period_start", "current_total", "candidate_total", "change",
                                  "provider_cost", "margin_before", "margin_after")} == {
        "period_start": "2026-10-01", "current_total": "30", "candidate_total": "265",
        "change": "235", "provider_cost": "100", "margin_before": "-70", "margin_after": "165"}
    assert len(rows) == 3
