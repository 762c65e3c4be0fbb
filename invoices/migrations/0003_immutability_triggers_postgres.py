"""On PostgreSQL the database itself refuses changes to a finalized, paid or void invoice.

The model layer (invoices/models.py) guards every ORM path; these triggers also stop raw
SQL, a bulk script or a future bug. A non-draft invoice row may only change its status
along finalized → paid/void and its payment and Stripe bookkeeping columns; its lines may
only get their Stripe item id. SQLite (the embedded demo default) relies on the model layer.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION invoices_invoice_guard() RETURNS trigger AS $$
DECLARE
    mutable text[] := ARRAY['status', 'paid_at', 'voided_at', 'payment_failed_at',
        'stripe_invoice_id', 'stripe_state', 'stripe_attempts', 'stripe_error',
        'stripe_next_attempt_at', 'updated_at'];
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is % and cannot be deleted', OLD.id, OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        RETURN NEW;
    END IF;
    IF NEW.status <> OLD.status
       AND NOT (OLD.status = 'finalized' AND NEW.status IN ('paid', 'void')) THEN
        RAISE EXCEPTION 'invoice % is % and cannot become %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (to_jsonb(NEW) - mutable) IS DISTINCT FROM (to_jsonb(OLD) - mutable) THEN
        RAISE EXCEPTION 'invoice % is % and immutable', OLD.id, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION invoices_invoiceline_guard() RETURNS trigger AS $$
DECLARE
    old_status text;
    new_status text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT status INTO old_status FROM invoices_invoice WHERE id = OLD.invoice_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        SELECT status INTO new_status FROM invoices_invoice WHERE id = NEW.invoice_id;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF (COALESCE(old_status, 'draft') <> 'draft' OR COALESCE(new_status, 'draft') <> 'draft')
           AND (to_jsonb(NEW) - 'stripe_invoice_item_id')
               IS DISTINCT FROM (to_jsonb(OLD) - 'stripe_invoice_item_id') THEN
            RAISE EXCEPTION 'lines of invoice % (%) are immutable', OLD.invoice_id, old_status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF COALESCE(old_status, 'draft') <> 'draft' THEN
            RAISE EXCEPTION 'lines of invoice % (%) are immutable', OLD.invoice_id, old_status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF COALESCE(new_status, 'draft') <> 'draft' THEN
        RAISE EXCEPTION 'invoice % is % and takes no new lines', NEW.invoice_id, new_status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS invoices_invoice_guard ON invoices_invoice;
CREATE TRIGGER invoices_invoice_guard BEFORE UPDATE OR DELETE ON invoices_invoice
    FOR EACH ROW EXECUTE FUNCTION invoices_invoice_guard();
DROP TRIGGER IF EXISTS invoices_invoiceline_guard ON invoices_invoiceline;
CREATE TRIGGER invoices_invoiceline_guard BEFORE INSERT OR UPDATE OR DELETE ON invoices_invoiceline
    FOR EACH ROW EXECUTE FUNCTION invoices_invoiceline_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS invoices_invoiceline_guard ON invoices_invoiceline;
DROP TRIGGER IF EXISTS invoices_invoice_guard ON invoices_invoice;
DROP FUNCTION IF EXISTS invoices_invoiceline_guard();
DROP FUNCTION IF EXISTS invoices_invoice_guard();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("invoices", "0002_billing_run_progress_and_overrides")]
    operations = [migrations.RunPython(forwards, backwards)]
