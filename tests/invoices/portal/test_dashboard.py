"""The dashboard at ``/``: a customer's user lands on their own open period, sees each
allowance's bar, the bill so far and where it is heading, the daily series, earlier
periods, the usage mix and the contract in words; ops land in the admin."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Seat
from accounts.services import customer_user_create
from invoices.models import Invoice
from invoices.selectors.dashboard import customer_dashboard
from invoices.services import billing_run, invoice_finalize
from plans.services import contract_schedule_migration
from tests.factories import EventFactory, make_version
from tests.invoices.billing_fixtures import add_events, add_seat, at, worked_example
from usage.rollups import rollup_usage

pytestmark = pytest.mark.django_db

NOW = at(2026, 11, 11)  # 10 of November's 30 days gone


@pytest.fixture
def november(acme_invoice):
    """acme in November: 5 seats (5,000 tasks included), 2,000 tasks so far, rolled up, and
    AI calls by a person and an agent."""
    customer = acme_invoice.customer
    add_events(customer, count=1500, when=at(2026, 11, 3, 9))
    add_events(customer, count=500, when=at(2026, 11, 9, 15))
    for seat, initiated_by, model, tokens in [("user0@acme.test", "user", "gpt-4.1", 1200),
                                              ("triage-bot", "agent", "claude", 3000)]:
        EventFactory(customer=customer, event_type="ai.call", timestamp=at(2026, 11, 4, 10),
                     transaction_id=f"call-{seat}", seat=seat, model=model, properties={
                         "total_tokens": tokens, "initiated_by": initiated_by,
                         "latency_tier": "realtime"})
    rollup_usage(now=at(2026, 11, 10, 23))
    return acme_invoice


def page(client) -> str:
    with time_machine.travel(NOW, tick=False):
        response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_each_allowance_shows_its_bar_exact_numbers_and_when_the_pace_passes_it(
        acme_viewer, november):
    html = page(acme_viewer)
    words = text(html)

    assert 'data-charge="tasks" data-percent="40.0"' in html
    assert 'style="width: 40.0%"' in html
    assert "2,000 of 5,000 included" in words and "40% used" in words
    # 2,000 in 10 days is 6,000 by the end; 5,000 is reached after 25 days.
    assert "Projected by the period's end: 6,000" in words
    assert "you pass the allowance on 26 Nov" in words


def test_the_bill_so_far_the_projection_and_the_days_left(acme_viewer, november):
    words = text(page(acme_viewer))

    assert "Bill so far $200.00" in words  # 5 seats × $40.00, usage within the allowance
    # Projected: 5 × $40.00 + (6,000 − 5,000) × $0.05 = $250.00.
    assert "Projected at period end $250.00" in words
    assert "Days left 20" in words and "20 days left" in words
    assert "usage so far ÷ time elapsed × the period's length" in words
    assert "33.3% of the period has gone by" in words


def test_the_daily_series_feeds_the_chart_and_lists_the_numbers(acme_viewer, november):
    html = page(acme_viewer)
    data = json.loads(re.search(
        r'<script id="usage-chart-data" type="application/json">(.*?)</script>', html,
        re.S).group(1))

    (tasks,) = data["series"]
    assert tasks["code"] == "tasks" and len(tasks["labels"]) == 30
    assert tasks["daily"][:10] == [0, 0, 1500, 0, 0, 0, 0, 0, 500, 0]
    assert tasks["daily"][11:] == [None] * 19  # days to come
    assert tasks["cumulative"][9] == 2000 and tasks["allowance"] == 5000
    assert tasks["pace"][-1] == 6000
    assert '<canvas data-series="0"' in html
    assert "dashboard.js" in html and "chart.umd.min.js" in html
    assert "<script>" not in html  # no inline script: the page's policy allows none


def test_earlier_periods_are_listed_with_their_usage_and_invoice(acme_viewer, november):
    words = text(page(acme_viewer))

    # October, as invoiced: 5,200 tasks, $216.80.
    assert "1 Oct – 31 Oct 2026 5,200 $216.80 USD-000001" in words


def test_breakdowns_tell_people_from_agents(acme_viewer, november):
    html = page(acme_viewer)
    words = text(html)

    assert "triage-bot agent 1 3,000 71.4%" in words
    assert "user0@acme.test person 1 1,200 28.6%" in words
    assert "agent 1 3,000" in words and "user 1 1,200" in words  # initiated_by
    assert "claude 1 3,000" in words and "gpt-4.1 1 1,200" in words
    assert "realtime 2 4,200 100%" in words


def test_contract_terms_and_a_scheduled_migration_in_words(acme_viewer, november):
    contract = november.contract
    new_version = make_version(
        plan=contract.plan_version.plan, seat_price="45.00", effective_from=dt.date(2026, 11, 1),
        charges=[{"metric": "tasks", "model": "per_unit", "unit_price": "0.04",
                  "included_per_seat": 800}])
    contract_schedule_migration(contract=contract, plan_version=new_version,
                                effective_date=dt.date(2027, 1, 1), today=dt.date(2026, 11, 10))
    words = text(page(acme_viewer))

    assert "Plan Team , version 1, billed monthly in USD." in words
    assert "Seats cost $40.00 each per period; you have committed to 3 seats" in words
    assert "1,000 included per seat (5,000 this period); beyond that, $0.05 each" in words
    assert "It has no end date" in words
    assert "from 1 Jan 2027 your plan changes to Team version 2" in words
    assert "Seat price $40.00 $45.00" in words
    assert "Tasks completed: price per unit $0.05 $0.04" in words
    assert "Tasks completed: included per seat 1,000 800" in words


def test_a_term_end_and_its_renewal_are_stated(acme_viewer, november):
    contract = november.contract
    contract.end_date = dt.date(2027, 9, 30)
    contract.save(update_fields=["end_date"])
    words = text(page(acme_viewer))

    assert ("The term ends 30 Sep 2027; it renews automatically on 1 Oct 2027 for a term of "
            "the same length, keeping version 1") in words


def test_passed_allowance_says_on_which_day(acme_viewer, november):
    add_events(november.customer, count=3500, when=at(2026, 11, 10, 8),
               received_at=at(2026, 11, 10, 23, 5))  # 5,500 > 5,000
    rollup_usage(now=at(2026, 11, 10, 23, 30))
    html = page(acme_viewer)
    words = text(html)

    assert 'data-percent="110.0"' in html and 'style="width: 100%"' in html
    assert "Allowance passed on 10 Nov" in words
    assert "Bill so far $225.00" in words  # 500 over × $0.05


def test_the_number_of_queries_does_not_grow_with_seats_days_or_usage(acme_viewer, november):
    def count() -> int:
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
            assert acme_viewer.get("/").status_code == 200
        return len(queries)

    few = count()
    customer = november.customer
    for n in range(30):
        add_seat(customer, f"extra{n}@acme.test", at(2026, 11, 2))
        EventFactory(customer=customer, event_type="ai.call", timestamp=at(2026, 11, 2 + n % 8),
                     transaction_id=f"extra-{n}", seat=f"extra{n}@acme.test", model=f"model-{n}",
                     received_at=at(2026, 11, 10, 23, 5),
                     properties={"total_tokens": n, "initiated_by": "user"})
    rollup_usage(now=at(2026, 11, 10, 23, 30))

    assert Seat.objects.filter(customer=customer).count() == 35
    assert count() == few


def test_the_selector_returns_the_same_figures_the_page_shows(november):
    dashboard = customer_dashboard(customer=november.customer, at=NOW)

    (tasks,) = dashboard.charges
    assert (tasks.used, tasks.allowance, tasks.percent, tasks.projected) == (
        2000, 5000, Decimal("40.0"), 6000)
    assert tasks.outlook.passes_at == at(2026, 11, 26)
    assert (dashboard.bill_so_far, dashboard.projected_bill) == (Decimal("200.00"),
                                                                 Decimal("250.00"))
    assert [p.number for p in dashboard.past] == ["USD-000001"]


def test_a_customer_without_a_contract_in_force_sees_its_invoices_only(acme_viewer, november):
    type(november.contract).objects.filter(pk=november.contract_id).update(
        end_date=dt.date(2026, 10, 31))  # October was its last period
    words = text(page(acme_viewer))

    assert "No contract is in force today" in words and "USD-000001" in words


def test_staff_land_in_the_admin(client):
    client.force_login(get_user_model().objects.create_user("ops", password="x", is_staff=True))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_login_without_a_customer_gets_a_404(client):
    client.force_login(get_user_model().objects.create_user("nobody", password="x"))
    assert client.get("/").status_code == 404


def test_another_customers_user_sees_only_their_own_dashboard(globex_admin, november):
    html = page(globex_admin)

    assert "Globex" in html and "USD-000001" not in html and "triage-bot" not in html


def test_the_nav_links_the_portal_pages(acme_viewer, november):
    html = page(acme_viewer)

    assert 'href="/" aria-current="page">Dashboard' in html
    assert 'href="/invoices/">Invoices' in html and 'href="/team/">Team' in html



def test_earlier_periods_show_finalized_invoices_but_not_drafts(client):
    # (Was tests/invoices/test_customer_home.py.) A draft is ops' working copy.
    contract = worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    draft = Invoice.objects.get()
    membership = customer_user_create(customer=contract.customer, username="cu",
                                      password="pw-cu-12345")
    client.force_login(membership.user)

    html = page(client)
    assert str(draft.pk) not in html and "No invoices yet" in html
    invoice_finalize(invoice=draft, now=at(2026, 11, 2))
    assert "USD-000001" in text(page(client))
