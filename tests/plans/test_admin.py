"""The ops admin for the catalog and contracts, driven through Django's test client."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from plans.models import Charge, ChargeTier, Contract, ContractMigration, Metric, PlanVersion
from plans.services import contract_create, contract_schedule_migration
from tests.factories import (
    CustomerFactory,
    MetricFactory,
    PlanFactory,
    admin_form_data,
    make_version,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 15)
NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def url(name: str, *args) -> str:
    return reverse(f"admin:plans_{name}", args=args)


def contract_for(customer=None, version=None, start=dt.date(2026, 10, 1), end=None, **kw):
    return contract_create(customer=customer or CustomerFactory(),
                           plan_version=version or make_version(), start_date=start,
                           end_date=end, **kw)


@pytest.fixture
def tokens():
    return MetricFactory(code="tokens", name="Tokens", event_type="ai.call", aggregation="sum",
                         field="total_tokens")


@pytest.fixture
def tiered_version(tokens):
    return make_version(plan=PlanFactory(code="usage"), seat_price="0", charges=[
        {"metric": "tokens", "model": "graduated", "tiers": [
            {"up_to": 1000, "unit_price": "0.002"}, {"up_to": None, "unit_price": "0.001"}]}])


# --- pages load ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "metric/", "metric/?aggregation__exact=sum", "metric/?q=tok", "metric/?event_type=ai.call",
    "plan/", "plan/?q=usage",
    "planversion/", "planversion/?status__exact=draft", "planversion/?currency=USD&q=usage",
    "charge/", "charge/?model__exact=graduated",
    "contract/", "contract/?status__exact=active", "contract/?renewal__exact=latest",
    "contract/?term_ends=next30", "contract/?term_ends=due", "contract/?migration=pending",
    "contract/?q=acme", "contractmigration/", "contractmigration/?status__exact=scheduled",
    "metric/add/", "plan/add/", "planversion/add/", "charge/add/", "contract/add/",
    "contractmigration/add/", "contract/renew-due/",
])
def test_pages_load(admin_client, tiered_version, path):
    contract_for(CustomerFactory(external_id="acme"))
    response = admin_client.get("/admin/plans/" + path)
    assert response.status_code == 200


def test_change_and_history_pages_load(admin_client, tiered_version):
    contract = contract_for(version=make_version(plan=tiered_version.plan, seat_price="5"))
    charge = tiered_version.charges.get()
    for path in [url("planversion_change", tiered_version.pk),
                 url("planversion_history", tiered_version.pk),
                 url("plan_change", tiered_version.plan_id),
                 url("metric_change", charge.metric_id),
                 url("charge_change", charge.pk), url("charge_history", charge.pk),
                 url("contract_change", contract.pk), url("contract_history", contract.pk),
                 url("planversion_publish", make_version(publish=False).pk),
                 url("planversion_copy", tiered_version.pk)]:
        assert admin_client.get(path).status_code == 200, path


def test_prices_show_without_trailing_zeros(admin_client, tiered_version):
    page = admin_client.get(url("planversion_change", tiered_version.pk)).content.decode()
    assert "0.002" in page
    assert "0.0020000000" not in page


# --- publishing and immutability -----------------------------------------------------------


def test_publish_action_publishes_drafts(admin_client):
    draft = make_version(publish=False, seat_price="12.00")
    response = admin_client.post(url("planversion_changelist"), {
        "action": "publish", "_selected_action": [draft.pk]}, follow=True)
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.status == PlanVersion.Status.PUBLISHED
    assert draft.published_at == NOW
    assert f"Published {draft}" in response.content.decode()


def test_publish_button_asks_then_publishes(admin_client):
    draft = make_version(publish=False)
    change_page = admin_client.get(url("planversion_change", draft.pk)).content.decode()
    assert url("planversion_publish", draft.pk) in change_page
    confirm = admin_client.get(url("planversion_publish", draft.pk))
    assert "can never change again" in confirm.content.decode()
    draft.refresh_from_db()
    assert draft.status == PlanVersion.Status.DRAFT  # GET only asks
    admin_client.post(url("planversion_publish", draft.pk))
    draft.refresh_from_db()
    assert draft.is_published


def test_publishing_a_tiered_charge_without_tiers_is_refused(admin_client, tokens):
    draft = make_version(publish=False, seat_price="0")
    Charge.objects.create(plan_version=draft, metric=tokens, model="graduated")
    response = admin_client.post(url("planversion_changelist"), {
        "action": "publish", "_selected_action": [draft.pk]}, follow=True)
    assert "was not published" in response.content.decode()
    assert "at least one tier" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == PlanVersion.Status.DRAFT


def test_published_version_change_form_is_view_only(admin_client, tiered_version):
    response = admin_client.get(url("planversion_change", tiered_version.pk))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert 'name="_save"' not in response.content.decode()


def test_posting_to_a_published_version_changes_nothing(admin_client, tiered_version):
    before = (tiered_version.seat_price, tiered_version.effective_from)
    charge = tiered_version.charges.get()
    data = {
        "plan": tiered_version.plan_id, "effective_from": "2030-01-01", "currency": "USD",
        "billing_interval": "month", "seat_price": "999", "base_fee": "5",
        "charges-TOTAL_FORMS": "1", "charges-INITIAL_FORMS": "1",
        "charges-0-id": charge.pk, "charges-0-plan_version": tiered_version.pk,
        "charges-0-metric": charge.metric_id, "charges-0-model": "per_unit",
        "charges-0-unit_price": "1", "charges-0-included_units": "0", "charges-0-filters": "{}",
        "charges-0-position": "0", "_save": "Save",
    }
    response = admin_client.post(url("planversion_change", tiered_version.pk), data)
    assert response.status_code == 403
    tiered_version.refresh_from_db()
    charge.refresh_from_db()
    assert (tiered_version.seat_price, tiered_version.effective_from) == before
    assert charge.model == "graduated"
    assert charge.tiers.count() == 2


def test_published_charge_and_tiers_are_view_only(admin_client, tiered_version):
    charge = tiered_version.charges.get()
    response = admin_client.post(url("charge_change", charge.pk), {
        "model": "per_unit", "unit_price": "1", "tiers-TOTAL_FORMS": "0",
        "tiers-INITIAL_FORMS": "0"})
    assert response.status_code == 403
    assert admin_client.post(url("charge_delete", charge.pk), {"post": "yes"}).status_code == 403
    assert ChargeTier.objects.filter(charge=charge).count() == 2


def test_published_version_cannot_be_deleted(admin_client, tiered_version):
    response = admin_client.post(url("planversion_delete", tiered_version.pk), {"post": "yes"})
    assert response.status_code == 403
    assert PlanVersion.objects.filter(pk=tiered_version.pk).exists()


def test_draft_version_is_edited_through_the_service(admin_client, tokens):
    draft = make_version(publish=False, seat_price="10.00")
    page = admin_client.get(url("planversion_change", draft.pk))
    data = admin_form_data(page, seat_price="11.50", **{
        "charges-TOTAL_FORMS": "1", "charges-0-metric": str(tokens.pk),
        "charges-0-model": "per_unit", "charges-0-unit_price": "0.000004",
        "charges-0-included_units": "0", "charges-0-filters": "{}", "charges-0-position": "0"})
    response = admin_client.post(url("planversion_change", draft.pk), data)
    assert response.status_code == 302, response.context["errors"]
    draft.refresh_from_db()
    assert draft.seat_price == Decimal("11.50")
    assert draft.charges.get().unit_price == Decimal("0.000004")


def test_charge_row_gets_the_api_validation(admin_client, tokens):
    draft = make_version(publish=False)
    page = admin_client.get(url("planversion_change", draft.pk))
    data = admin_form_data(page, **{
        "charges-TOTAL_FORMS": "1", "charges-0-metric": str(tokens.pk),
        "charges-0-model": "per_unit", "charges-0-unit_price": "",
        "charges-0-included_units": "0", "charges-0-filters": "{}", "charges-0-position": "0"})
    response = admin_client.post(url("planversion_change", draft.pk), data)
    assert response.status_code == 200
    assert "This field is required." in str(response.context["inline_admin_formsets"][0]
                                            .formset.errors)
    assert not draft.charges.exists()


def test_adding_a_version_numbers_it_through_the_service(admin_client):
    plan = make_version().plan
    response = admin_client.post(url("planversion_add"), {
        "plan": plan.pk, "effective_from": "2027-01-01", "currency": "USD",
        "billing_interval": "month", "seat_price": "45", "base_fee": "0",
        "charges-TOTAL_FORMS": "0", "charges-INITIAL_FORMS": "0"})
    assert response.status_code == 302
    new = plan.versions.get(version=2)
    assert new.status == PlanVersion.Status.DRAFT
    assert new.seat_price == Decimal("45")


def test_tiers_are_checked_together(admin_client, tokens):
    draft = make_version(publish=False, seat_price="0")
    charge = Charge.objects.create(plan_version=draft, metric=tokens, model="graduated")
    page = admin_client.get(url("charge_change", charge.pk))
    data = admin_form_data(page, **{
        "tiers-TOTAL_FORMS": "2",
        "tiers-0-up_to": "1000", "tiers-0-unit_price": "0.002", "tiers-0-flat_fee": "0",
        "tiers-1-up_to": "500", "tiers-1-unit_price": "0.001", "tiers-1-flat_fee": "0"})
    response = admin_client.post(url("charge_change", charge.pk), data)
    assert response.status_code == 200
    assert "last tier" in str(response.context["inline_admin_formsets"][0].formset.errors)
    assert not charge.tiers.exists()
    data.update({"tiers-0-up_to": ""})  # now: ≤500 at 0.001, then the rest at 0.002
    response = admin_client.post(url("charge_change", charge.pk), data)
    assert response.status_code == 302
    assert [(t.up_to, t.position) for t in charge.tiers.all()] == [(Decimal(500), 0), (None, 1)]


def test_create_next_version_copies_into_a_draft(admin_client, tiered_version):
    response = admin_client.post(url("planversion_changelist"), {
        "action": "create_next_version", "_selected_action": [tiered_version.pk]})
    new = PlanVersion.objects.get(plan=tiered_version.plan, version=2)
    assert response.status_code == 302
    assert response.url == url("planversion_change", new.pk)
    assert new.status == PlanVersion.Status.DRAFT
    assert new.effective_from == TODAY  # the source's date is in the past
    [charge] = new.charges.all()
    assert [(t.up_to, t.unit_price) for t in charge.tiers.all()] == [
        (Decimal(1000), Decimal("0.002")), (None, Decimal("0.001"))]


def test_history_shows_who_changed_a_draft(admin_client, admin_user):
    draft = make_version(publish=False, seat_price="10.00")
    admin_client.post(url("planversion_changelist"), {
        "action": "publish", "_selected_action": [draft.pk]})
    record = draft.history.latest()
    assert record.history_user == admin_user
    page = admin_client.get(url("planversion_history", draft.pk)).content.decode()
    assert admin_user.username in page


# --- metrics -------------------------------------------------------------------------------


def test_metric_definition_is_read_only_once_a_published_version_prices_it(admin_client,
                                                                          tiered_version):
    metric = tiered_version.charges.get().metric
    page = admin_client.get(url("metric_change", metric.pk))
    assert set(page.context["adminform"].form.fields) == {"name", "description"}
    admin_client.post(url("metric_change", metric.pk), {
        "name": "Renamed", "description": "Tokens of every call", "aggregation": "count",
        "field": "", "event_type": "x"})
    metric.refresh_from_db()
    assert (metric.name, metric.description) == ("Renamed", "Tokens of every call")
    assert (metric.aggregation, metric.event_type) == ("sum", "ai.call")


def test_metric_form_refuses_a_priced_rule_change_through_the_service(tiered_version):
    # Even a form that shows the rule (read-only fields aside) cannot change it: the service
    # behind PATCH /metrics/{code} refuses, naming the field.
    from plans.admin.catalog import MetricForm

    metric = tiered_version.charges.get().metric
    form = MetricForm(instance=metric, data={
        "code": metric.code, "name": metric.name, "description": "", "event_type": "other",
        "aggregation": metric.aggregation, "field": metric.field, "filters": "{}"})
    assert not form.is_valid()
    assert "published versions" in str(form.errors["event_type"])


def test_unused_metric_can_be_redefined_with_the_api_rules(admin_client):
    metric = MetricFactory(code="docs", event_type="doc.parsed")
    page = admin_client.get(url("metric_change", metric.pk))
    bad = admin_form_data(page, aggregation="sum", field="")
    response = admin_client.post(url("metric_change", metric.pk), bad)
    assert response.status_code == 200
    assert "need the property" in str(response.context["adminform"].form.errors["field"])
    good = admin_form_data(page, aggregation="sum", field="pages")
    assert admin_client.post(url("metric_change", metric.pk), good).status_code == 302
    metric.refresh_from_db()
    assert (metric.aggregation, metric.field) == ("sum", "pages")


def test_metric_add_goes_through_the_service(admin_client):
    response = admin_client.post(url("metric_add"), {
        "code": "calls", "name": "Calls", "event_type": "ai.call", "aggregation": "count",
        "field": "total_tokens", "filters": ""})
    assert response.status_code == 200
    assert "count metrics take no field" in str(response.context["adminform"].form.errors)
    response = admin_client.post(url("metric_add"), {
        "code": "calls", "name": "Calls", "event_type": "ai.call", "aggregation": "count",
        "field": "", "filters": ""})
    assert response.status_code == 302
    assert Metric.objects.get(code="calls").filters == {}


# --- contracts -----------------------------------------------------------------------------


def add_contract_data(customer, version, **changes) -> dict:
    data = {"customer": customer.pk, "plan_version": version.pk, "start_date": "2026-10-01",
            "end_date": "2027-09-30", "auto_renew": "on", "renewal": "grandfather",
            "committed_seats": "3", "seat_price": "", "base_fee": "", "included_per_seat": "",
            "discount_percent": "", "overage_cap": "", "minimum_commitment": ""}
    data.update(changes)
    return data


def test_contract_add_goes_through_the_service(admin_client):
    customer, version = CustomerFactory(), make_version()
    response = admin_client.post(url("contract_add"), add_contract_data(
        customer, version, discount_percent="10"))
    assert response.status_code == 302
    contract = Contract.objects.get()
    assert contract.anchor_date == dt.date(2026, 10, 1)  # set by contract_create
    assert contract.discount_percent == Decimal("10")


def test_contract_add_with_a_bad_end_date_shows_the_error(admin_client):
    customer, version = CustomerFactory(), make_version()
    response = admin_client.post(url("contract_add"), add_contract_data(
        customer, version, end_date="2027-09-15"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "last day of a billing period" in str(errors["end_date"])
    assert not Contract.objects.exists()


def test_contract_add_with_end_before_start_shows_the_error_on_end_date(admin_client):
    customer, version = CustomerFactory(), make_version()
    response = admin_client.post(url("contract_add"), add_contract_data(
        customer, version, end_date="2026-09-30"))
    assert response.status_code == 200
    assert "after start_date" in str(response.context["adminform"].form.errors["end_date"])
    assert not Contract.objects.exists()


def test_contract_add_for_a_customer_with_an_active_contract_shows_the_error(admin_client):
    existing = contract_for()
    response = admin_client.post(url("contract_add"), add_contract_data(
        existing.customer, existing.plan_version, start_date="2026-11-01",
        end_date="2027-10-31"))
    assert response.status_code == 200
    assert "already has an active contract" in str(response.context["adminform"].form.errors)
    assert Contract.objects.count() == 1


def test_contract_add_offers_published_versions_only(admin_client):
    published, draft = make_version(), make_version(publish=False)
    response = admin_client.get(url("contract_add"))
    choices = response.context["adminform"].form.fields["plan_version"].queryset
    assert published in choices
    assert draft not in choices


def test_contract_change_goes_through_the_service_and_history_names_the_author(
        admin_client, admin_user):
    contract = contract_for(end=dt.date(2027, 9, 30))
    page = admin_client.get(url("contract_change", contract.pk))
    response = admin_client.post(url("contract_change", contract.pk),
                                 admin_form_data(page, committed_seats="8"))
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.committed_seats == 8
    assert contract.history.latest().history_user == admin_user
    history = admin_client.get(url("contract_history", contract.pk)).content.decode()
    assert admin_user.username in history


def test_contract_change_with_a_bad_end_date_shows_the_error(admin_client):
    contract = contract_for(end=dt.date(2027, 9, 30))
    page = admin_client.get(url("contract_change", contract.pk))
    response = admin_client.post(url("contract_change", contract.pk),
                                 admin_form_data(page, end_date="2027-09-10"))
    assert response.status_code == 200
    assert "end_date" in response.context["adminform"].form.errors
    contract.refresh_from_db()
    assert contract.end_date == dt.date(2027, 9, 30)


def test_ended_contract_is_view_only(admin_client):
    contract = contract_for(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31),
                            auto_renew=False)
    Contract.objects.filter(pk=contract.pk).update(status=Contract.Status.ENDED)
    response = admin_client.post(url("contract_change", contract.pk), {"committed_seats": "9"})
    assert response.status_code == 403


def test_history_revert_is_disabled(admin_client):
    contract = contract_for()
    record = contract.history.latest()
    path = url("contract_simple_history", contract.pk, record.history_id)
    assert admin_client.post(path, {"committed_seats": "50"}).status_code == 403


def test_renewing_in_30_days_filter_lists_active_terms_ending_by_then(admin_client):
    version = make_version()

    def ending(external_id, end, start=dt.date(2026, 1, 1), **kw):
        return contract_for(CustomerFactory(external_id=external_id), version, start=start,
                            end=end, **kw)

    today_end = ending("ends-today", dt.date(2026, 11, 14), start=dt.date(2025, 11, 15))
    soon = ending("ends-soon", dt.date(2026, 11, 30))
    no_renew = ending("ends-soon-no-renew", dt.date(2026, 11, 30), auto_renew=False)
    ending("ends-later", dt.date(2026, 12, 31))
    ending("already-due", dt.date(2026, 10, 31))
    contract_for(CustomerFactory(external_id="evergreen"), version)
    ended = ending("ended", dt.date(2026, 11, 30))
    Contract.objects.filter(pk=ended.pk).update(status=Contract.Status.ENDED)
    response = admin_client.get(url("contract_changelist") + "?term_ends=next30")
    assert response.status_code == 200
    listed = {c.customer.external_id for c in response.context["cl"].result_list}
    assert listed == {"ends-soon", "ends-soon-no-renew"}
    assert today_end.end_date < TODAY  # ended yesterday: listed as due instead
    due = admin_client.get(url("contract_changelist") + "?term_ends=due")
    assert {c.customer.external_id for c in due.context["cl"].result_list} == {
        "ends-today", "already-due"}
    assert soon.pk and no_renew.pk


def test_renew_due_action_renews_selected_due_contracts(admin_client):
    version = make_version()
    due = contract_for(start=dt.date(2025, 11, 1), end=dt.date(2026, 10, 31), version=version)
    other_due = contract_for(start=dt.date(2025, 11, 1), end=dt.date(2026, 10, 31),
                             version=version)
    running = contract_for(end=dt.date(2027, 9, 30), version=version)
    response = admin_client.post(url("contract_changelist"), {
        "action": "renew_due_now", "_selected_action": [due.pk, running.pk]}, follow=True)
    assert "1 term(s) ended; 1 renewed" in response.content.decode()
    assert Contract.objects.get(renewed_from=due).start_date == dt.date(2026, 11, 1)
    other_due.refresh_from_db()
    assert other_due.status == Contract.Status.ACTIVE  # not selected


def test_renew_due_button_runs_the_job_after_confirming(admin_client):
    due = contract_for(start=dt.date(2025, 11, 1), end=dt.date(2026, 10, 31))
    confirm = admin_client.get(url("contract_renew_due"))
    assert f"#{due.pk}" in confirm.content.decode()
    assert not Contract.objects.filter(renewed_from=due).exists()
    admin_client.post(url("contract_renew_due"))
    assert Contract.objects.filter(renewed_from=due).exists()


def test_pending_migration_shows_in_the_list(admin_client):
    contract = contract_for(end=dt.date(2027, 9, 30))
    v2 = make_version(plan=contract.plan_version.plan, seat_price="50")
    contract_schedule_migration(contract=contract, plan_version=v2,
                                effective_date=dt.date(2027, 1, 1), today=TODAY)
    page = admin_client.get(url("contract_changelist")).content.decode()
    assert f"→ {v2} on 2027-01-01" in page


# --- migrations through the contract's inline ----------------------------------------------


def migration_data(page, version, effective_date, notice_days="30") -> dict:
    return admin_form_data(page, **{
        "migrations-TOTAL_FORMS": "1", "migrations-0-plan_version": str(version.pk),
        "migrations-0-effective_date": effective_date, "migrations-0-notice_days": notice_days,
    })


def test_migration_inline_applies_the_notice_rule(admin_client):
    contract = contract_for(end=dt.date(2027, 9, 30))
    v2 = make_version(plan=contract.plan_version.plan, seat_price="50")
    page = admin_client.get(url("contract_change", contract.pk))
    response = admin_client.post(url("contract_change", contract.pk),
                                 migration_data(page, v2, "2026-12-01"))
    assert response.status_code == 200
    errors = str(response.context["inline_admin_formsets"][0].formset.errors)
    assert "2026-12-15" in errors  # 30 days after today
    assert not ContractMigration.objects.exists()
    response = admin_client.post(url("contract_change", contract.pk),
                                 migration_data(page, v2, "2027-01-01"))
    assert response.status_code == 302
    migration = ContractMigration.objects.get()
    assert (migration.effective_date, migration.scheduled_on) == (dt.date(2027, 1, 1), TODAY)


def test_migration_inline_refuses_a_date_that_is_not_a_period_start(admin_client):
    contract = contract_for(end=dt.date(2027, 9, 30))
    v2 = make_version(plan=contract.plan_version.plan, seat_price="50")
    page = admin_client.get(url("contract_change", contract.pk))
    response = admin_client.post(url("contract_change", contract.pk),
                                 migration_data(page, v2, "2027-01-10"))
    assert response.status_code == 200
    assert "period start" in str(response.context["inline_admin_formsets"][0].formset.errors)


def test_migration_inline_cancels_a_pending_migration(admin_client):
    contract = contract_for(end=dt.date(2027, 9, 30))
    v2 = make_version(plan=contract.plan_version.plan, seat_price="50")
    migration = contract_schedule_migration(contract=contract, plan_version=v2,
                                            effective_date=dt.date(2027, 1, 1), today=TODAY)
    page = admin_client.get(url("contract_change", contract.pk))
    response = admin_client.post(url("contract_change", contract.pk),
                                 admin_form_data(page, **{"migrations-0-cancel": "on"}))
    assert response.status_code == 302
    migration.refresh_from_db()
    assert migration.status == ContractMigration.Status.CANCELED


def test_migration_rows_in_force_are_read_only(admin_client):
    contract = contract_for(start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))
    v2 = make_version(plan=contract.plan_version.plan, seat_price="50")
    with time_machine.travel(dt.datetime(2026, 8, 1, tzinfo=dt.UTC), tick=False):
        migration = contract_schedule_migration(
            contract=contract, plan_version=v2, effective_date=dt.date(2026, 10, 1),
            today=dt.date(2026, 8, 1))
    page = admin_client.get(url("contract_change", contract.pk))
    form = page.context["inline_admin_formsets"][0].formset.forms[0]
    assert all(form.fields[name].disabled
               for name in ("plan_version", "effective_date", "notice_days", "cancel"))
    data = admin_form_data(page, **{"migrations-0-cancel": "on",
                                    "migrations-0-effective_date": "2026-11-01"})
    admin_client.post(url("contract_change", contract.pk), data)
    migration.refresh_from_db()
    assert migration.status == ContractMigration.Status.SCHEDULED
    assert migration.effective_date == dt.date(2026, 10, 1)


def test_schedule_migration_form_applies_the_service_rules(admin_client):
    contract = contract_for(end=dt.date(2027, 9, 30))
    v2 = make_version(plan=contract.plan_version.plan, seat_price="50")
    data = {"contract": contract.pk, "plan_version": v2.pk, "effective_date": "2026-12-01",
            "notice_days": "30"}
    response = admin_client.post(url("contractmigration_add"), data)
    assert response.status_code == 200
    assert "2026-12-15" in str(response.context["adminform"].form.errors)
    data["effective_date"] = "2027-02-01"
    assert admin_client.post(url("contractmigration_add"), data).status_code == 302
    assert ContractMigration.objects.get().effective_date == dt.date(2027, 2, 1)


# --- the customer list's contract columns (added by plans.admin) ---------------------------


def test_customer_list_shows_the_active_plan_and_filters_on_it(admin_client):
    contract = contract_for(CustomerFactory(external_id="with-contract"))
    CustomerFactory(external_id="without-contract")
    response = admin_client.get(reverse("admin:accounts_customer_changelist"))
    assert f"{contract.plan_version} (#{contract.pk})" in response.content.decode()
    response = admin_client.get(reverse("admin:accounts_customer_changelist") + "?has_contract=no")
    assert [c.external_id for c in response.context["cl"].result_list] == ["without-contract"]
