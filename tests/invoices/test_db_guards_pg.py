"""What PostgreSQL itself refuses even from raw SQL (invoices/migrations/0005): TRUNCATE of
issued invoices, paid-and-void rows, rewritten Stripe ids; and the system check that
warns when the app's role could switch those guards off."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, connections, transaction

from accounts.models import Customer
from billing_site.checks import database_role_is_least_privilege, database_role_problems
from invoices.models import Invoice
from invoices.services import billing_run, invoice_finalize
from tests.invoices.billing_fixtures import at, worked_example

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = at(2026, 11, 2)
GUARDED_TABLES = ["invoices_invoice", "invoices_invoiceline", "invoices_invoicenumbersequence"]


@pytest.fixture
def draft() -> Invoice:
    worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    return Invoice.objects.get()


@pytest.fixture
def finalized(draft) -> Invoice:
    return invoice_finalize(invoice=draft, now=NOW)


def raw(sql: str, params=()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def truncate(tables: str) -> None:
    # The test's own inserts leave deferred foreign-key checks pending, and PostgreSQL
    # refuses any TRUNCATE while they are; running them first leaves only the guard.
    raw("SET CONSTRAINTS ALL IMMEDIATE")
    raw(f"TRUNCATE {tables}")


def row_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("table", GUARDED_TABLES)
def test_truncate_is_refused_while_a_finalized_invoice_exists(finalized, table):
    before = row_count(table)

    with pytest.raises(IntegrityError, match=f"TRUNCATE of {table} refused"):
        truncate(f"{table} CASCADE")

    assert before > 0 and row_count(table) == before


def test_truncate_of_the_customers_cascading_to_invoices_is_refused(finalized):
    with pytest.raises(IntegrityError, match="TRUNCATE of invoices_invoice"):
        truncate("accounts_customer CASCADE")
    assert Invoice.objects.filter(pk=finalized.pk).exists()


def test_truncate_of_drafts_only_is_allowed_as_a_delete_would_be(draft):
    truncate("invoices_invoiceline, invoices_invoice")
    assert row_count("invoices_invoice") == row_count("invoices_invoiceline") == 0


def test_raw_update_cannot_make_an_invoice_paid_and_void(finalized):
    with pytest.raises(IntegrityError, match="invoice_never_paid_and_void"):
        raw("UPDATE invoices_invoice SET status = 'paid', paid_at = now(), voided_at = now() "
            "WHERE id = %s", [finalized.pk])
    with pytest.raises(IntegrityError, match="invoice_voided_at_iff_void"):
        raw("UPDATE invoices_invoice SET status = 'void' WHERE id = %s", [finalized.pk])
    stored = Invoice.objects.get(pk=finalized.pk)
    assert (stored.status, stored.paid_at, stored.voided_at) == ("finalized", None, None)


@pytest.mark.parametrize(("table", "column"), [
    ("invoices_invoice", "stripe_invoice_id"),
    ("invoices_invoiceline", "stripe_invoice_item_id"),
    ("accounts_customer", "stripe_customer_id"),
])
def test_a_stripe_id_is_set_once_from_empty_and_never_rewritten(finalized, table, column):
    raw(f"UPDATE {table} SET {column} = 'st_1'")
    raw(f"UPDATE {table} SET {column} = 'st_1'")  # the same value again is no change

    with pytest.raises(IntegrityError, match=f"{table}.{column} is set once: st_1"):
        raw(f"UPDATE {table} SET {column} = 'st_2'")
    with pytest.raises(IntegrityError, match="is set once"):
        raw(f"UPDATE {table} SET {column} = ''")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT {column} FROM {table}")
        assert cursor.fetchall() == [("st_1",)]


def test_the_customer_trigger_lets_other_columns_and_a_first_stripe_id_through(db):
    customer = Customer.objects.create(external_id="acme", name="Acme", email="a@acme.test")
    raw("UPDATE accounts_customer SET name = 'Acme Inc' WHERE id = %s", [customer.pk])
    raw("UPDATE accounts_customer SET stripe_customer_id = 'cus_1' WHERE id = %s", [customer.pk])
    customer.refresh_from_db()
    assert (customer.name, customer.stripe_customer_id) == ("Acme Inc", "cus_1")


# --- the least-privilege role check ------------------------------------------------------

def second_connection(alias: str, **settings):
    """Another session to the test database (autocommit, so what it does is committed)."""
    default = connections["default"]
    return type(default)({**default.settings_dict, **settings}, alias=alias)


@contextmanager
def login_role(*, member_of: str | None = None) -> Iterator[str]:
    """A throwaway LOGIN role (committed, so another session can use it), removed after."""
    name = f"billing_test_{uuid.uuid4().hex[:12]}"
    admin = second_connection("role_admin")
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER')
            if member_of:
                cursor.execute(f'GRANT "{member_of}" TO "{name}"')
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'REASSIGN OWNED BY "{name}" TO {connection.settings_dict["USER"]}')
            cursor.execute(f'DROP OWNED BY "{name}"')
            cursor.execute(f'DROP ROLE "{name}"')
        admin.close()


@contextmanager
def connected_as(role: str) -> Iterator:
    other = second_connection("as_role", USER=role, PASSWORD="")
    try:
        yield other
    finally:
        other.close()


@contextmanager
def owning(role: str, table: str) -> Iterator[None]:
    admin = second_connection("owner_admin")
    original = connection.settings_dict["USER"]
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'ALTER TABLE {table} OWNER TO "{role}"')
        yield
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} OWNER TO {original}")
        admin.close()


def warning_ids(conn) -> list[str]:
    return [w.id for w in database_role_problems(conn)]


def test_the_deploy_check_warns_when_connected_as_a_superuser():
    warnings = database_role_is_least_privilege(None, databases=["default"])

    assert [w.id for w in warnings] == ["billing.W002"]
    assert "superuser" in warnings[0].msg and "Least-privilege" in warnings[0].hint
    errors = StringIO()
    call_command("check", "--deploy", "--tag", "database", "--database", "default",
                 stdout=StringIO(), stderr=errors)
    assert "billing.W002" in errors.getvalue()


def test_the_deploy_check_is_quiet_for_a_limited_role():
    with login_role() as role, connected_as(role) as limited:
        assert warning_ids(limited) == []


def test_the_deploy_check_warns_for_the_tables_owner_and_its_members():
    with login_role() as owner, owning(owner, "django_session"):
        with connected_as(owner) as as_owner:
            assert warning_ids(as_owner) == ["billing.W003"]
            assert owner in database_role_problems(as_owner)[0].msg
        with login_role(member_of=owner) as member, connected_as(member) as as_member:
            assert warning_ids(as_member) == ["billing.W003"]


def test_the_deploy_check_warns_for_a_member_of_a_superuser_role():
    with login_role(member_of=connection.settings_dict["USER"]) as role, \
            connected_as(role) as member:
        assert warning_ids(member) == ["billing.W002"]


def test_a_limited_role_cannot_disable_the_guards():
    with login_role() as role, connected_as(role) as limited:
        with pytest.raises(DatabaseError, match="must be owner"), limited.cursor() as cursor:
            cursor.execute("ALTER TABLE invoices_invoice DISABLE TRIGGER ALL")
