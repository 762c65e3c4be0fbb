"""The backtest API: start one (202), follow it, exact decimal strings, bounded inputs."""

from __future__ import annotations

import pytest
import time_machine

from invoices.lab.models import Backtest
from tests.invoices.lab.book import AS_OF, build_book

pytestmark = pytest.mark.django_db

BODY = {"plan": "team", "plan_version": 2, "periods": 1}


@pytest.fixture
def book():
    return build_book()


def start(api, django_capture_on_commit_callbacks, body=None):
    with time_machine.travel(AS_OF, tick=False), django_capture_on_commit_callbacks(execute=True):
        return api.post("/api/v1/backtests", body or BODY, format="json")


def test_post_answers_202_with_the_id_and_the_worker_runs_it(api, book,
                                                          django_capture_on_commit_callbacks):
    response = start(api, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    data = response.json()
    assert set(data) >= {"id", "status"}
    assert response["Location"] == f"/api/v1/backtests/{data['id']}"
    assert Backtest.objects.get(pk=data["id"]).status == Backtest.Status.DONE  # eager worker


def test_get_gives_results_and_summary_as_decimal_strings(api, book,
                                                         django_capture_on_commit_callbacks):
    backtest_id = start(api, django_capture_on_commit_callbacks).json()["id"]
    data = api.get(f"/api/v1/backtests/{backtest_id}").json()
    assert data["status"] == "done" and data["progress"] == 1
    rows = {r["customer"]: r for r in data["results"]}
    assert {k: rows["whale"][k] for k in ("period_start", "period_end", "current_total",
                                          "candidate_total", "provider_cost")} == {
        "period_start": "2026-10-01T00:00:00Z", "period_end": "2026-11-01T00:00:00Z",
        "current_total": "30.00", "candidate_total": "265.00", "provider_cost": "100.00"}
    assert rows["light"]["change"] == "-20.00"
    summary = data["summary"]
    assert {k: summary[k] for k in ("current_total", "candidate_total", "provider_cost",
                                    "customers_paying_more", "customers_paying_less")} == {
        "current_total": "120.00", "candidate_total": "370.00", "provider_cost": "121.00",
        "customers_paying_more": 2, "customers_paying_less": 1}
    assert summary["margin_before"] == "-1.00" and summary["margin_after"] == "249.00"
    assert [c["customer"] for c in summary["biggest_losers"]] == ["whale", "heavy"]
    narrowed = api.get(f"/api/v1/backtests/{backtest_id}?customer=light").json()
    assert [r["customer"] for r in narrowed["results"]] == ["light"]


def test_customers_narrow_the_backtest(api, book, django_capture_on_commit_callbacks):
    backtest_id = start(api, django_capture_on_commit_callbacks,
                        {**BODY, "customers": ["heavy"]}).json()["id"]
    data = api.get(f"/api/v1/backtests/{backtest_id}").json()
    assert [r["customer"] for r in data["results"]] == ["heavy"]
    assert data["customers"] == ["heavy"]


def test_results_come_a_page_at_a_time_and_the_summary_covers_them_all(
        api, book, django_capture_on_commit_callbacks):
    backtest_id = start(api, django_capture_on_commit_callbacks).json()["id"]
    everything = api.get(f"/api/v1/backtests/{backtest_id}").json()
    assert everything["results_count"] == len(everything["results"]) >= 3
    assert everything["next"] is None

    seen, url = [], f"/api/v1/backtests/{backtest_id}?limit=2"
    while url:
        page = api.get(url).json()
        assert page["results_count"] == everything["results_count"]
        assert page["summary"] == everything["summary"]
        assert len(page["results"]) <= 2
        seen += page["results"]
        url = page["next"]
    assert seen == everything["results"]
    first = api.get(f"/api/v1/backtests/{backtest_id}?limit=2").json()
    assert "offset=2" in first["next"] and "limit=2" in first["next"]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "offset=-1",
                                   "offset=9223372036854775808"])
def test_a_results_page_out_of_range_is_refused_naming_it(
        api, book, django_capture_on_commit_callbacks, query):
    backtest_id = start(api, django_capture_on_commit_callbacks).json()["id"]
    response = api.get(f"/api/v1/backtests/{backtest_id}?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["errors"]


@pytest.mark.parametrize(("body", "field"), [
    ({**BODY, "periods": 0}, "periods"),
    ({**BODY, "periods": 37}, "periods"),
    ({**BODY, "periods": "three"}, "periods"),
    ({**BODY, "plan": "nope"}, "plan"),
    ({**BODY, "plan_version": 9}, "plan_version"),
    ({**BODY, "plan_version": 0}, "plan_version"),
    ({**BODY, "customers": ["ghost"]}, "customers"),
    ({**BODY, "customers": "heavy"}, "customers"),
    ({**BODY, "seat_price": "1"}, "seat_price"),
    ({"plan_version": 2, "periods": 1}, "plan"),
])
def test_bad_input_is_a_400_naming_the_field_and_records_nothing(api, book, body, field,
                                                                 django_capture_on_commit_callbacks):
    response = start(api, django_capture_on_commit_callbacks, body)
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not Backtest.objects.exists()


def test_a_customer_without_a_contract_on_the_plan_is_refused(api, book,
                                                              django_capture_on_commit_callbacks):
    from tests.factories import CustomerFactory

    CustomerFactory(external_id="other")
    response = start(api, django_capture_on_commit_callbacks, {**BODY, "customers": ["other"]})
    assert response.status_code == 400
    assert "No contract on plan team: other." in response.json()["errors"]["customers"][0]


def test_unknown_backtest_is_a_json_404(api, book):
    for backtest_id in ("3f0c2a8e-5b1d-4a57-9d43-0b6f0f8f6d21", "not-a-uuid"):
        response = api.get(f"/api/v1/backtests/{backtest_id}")
        assert response.status_code == 404 and "detail" in response.json()


def test_needs_an_admin_key(ingest_api, anon_api, book):
    assert ingest_api.post("/api/v1/backtests", BODY, format="json").status_code == 403
    assert anon_api.get("/api/v1/backtests/x").status_code in (401, 403)


def test_the_schema_documents_both_operations(api):
    schema = api.get("/api/schema/?format=json").json()
    post = schema["paths"]["/api/v1/backtests"]["post"]
    assert "202" in post["responses"] and "400" in post["responses"]
    get = schema["paths"]["/api/v1/backtests/{backtest_id}"]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["examples"]


def test_a_broker_outage_closes_the_backtest_as_failed_saying_so(
        api, book, monkeypatch, django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    from invoices.lab import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.run_backtest, "delay", broker_down)
    backtest_id = start(api, django_capture_on_commit_callbacks).json()["id"]
    data = api.get(f"/api/v1/backtests/{backtest_id}").json()
    assert data["status"] == "failed"
    assert "Could not queue the backtest: connection refused" in data["error"]


def test_the_task_records_an_engine_failure_on_the_backtest(book, monkeypatch):
    from invoices.lab import backtest_service, tasks
    from invoices.lab.backtest_service import backtest_create

    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(backtest_service, "load_backtest", broken)
    backtest = backtest_create(plan="team", plan_version=2, periods=1, now=AS_OF)
    tasks.run_backtest.delay(str(backtest.pk))
    backtest.refresh_from_db()
    assert backtest.status == Backtest.Status.FAILED
    assert backtest.error == "RuntimeError: disk on fire"
