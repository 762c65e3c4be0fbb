"""Database guards the per-row triggers of 0003 leave open (issue 7).

- CHECK constraints (every database) tie an invoice's status to its number and
  timestamps exactly as invoices/services/lifecycle.py writes them: never paid and void
  at once, no numberless finalized invoice, no numbered draft.
- PostgreSQL: a statement-level trigger refuses TRUNCATE of the invoices, their lines or
  the number sequences while the table holds what a row DELETE may not remove (an issued
  invoice, its lines, a used number). Row triggers do not fire on TRUNCATE, so without it
  one statement would erase finalized invoices. Tables of drafts only may still be
  truncated (the billing benchmark resets its drafts that way).
- PostgreSQL: Stripe ids are write-once. Setting one from '' is the sync's first step;
  changing a stored one would re-point the invoice (or customer, or line) at another
  Stripe object and orphan the first with its payments. The customer table's trigger
  lives here because these ids are the Stripe sync's (invoices/stripe/steps.py).

None of this stops a role that owns the tables (it may disable triggers) or a superuser:
docs/operations.md, "Least-privilege database role", and the billing_site.checks warning.
"""

from django.db import migrations, models

CREATE = r"""
CREATE OR REPLACE FUNCTION invoices_refuse_truncate() RETURNS trigger AS $$
DECLARE
    kept boolean;
BEGIN
    -- TRUNCATE holds ACCESS EXCLUSIVE locks before BEFORE TRUNCATE triggers fire, so no
    -- finalize can slip in between this look and the truncation.
    IF TG_TABLE_NAME = 'invoices_invoice' THEN
        SELECT EXISTS (SELECT 1 FROM invoices_invoice WHERE status <> 'draft') INTO kept;
    ELSIF TG_TABLE_NAME = 'invoices_invoiceline' THEN
        SELECT EXISTS (
            SELECT 1 FROM invoices_invoice i
            WHERE i.status <> 'draft'
              AND EXISTS (SELECT 1 FROM invoices_invoiceline l WHERE l.invoice_id = i.id)
        ) INTO kept;
    ELSE
        SELECT EXISTS (SELECT 1 FROM invoices_invoicenumbersequence WHERE last_number > 0)
            INTO kept;
    END IF;
    IF kept THEN
        RAISE EXCEPTION 'TRUNCATE of % refused: it holds finalized, paid or void invoices '
            '(or their lines or numbers), which are never deleted', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS invoices_invoice_no_truncate ON invoices_invoice;
CREATE TRIGGER invoices_invoice_no_truncate BEFORE TRUNCATE ON invoices_invoice
    FOR EACH STATEMENT EXECUTE FUNCTION invoices_refuse_truncate();
DROP TRIGGER IF EXISTS invoices_invoiceline_no_truncate ON invoices_invoiceline;
CREATE TRIGGER invoices_invoiceline_no_truncate BEFORE TRUNCATE ON invoices_invoiceline
    FOR EACH STATEMENT EXECUTE FUNCTION invoices_refuse_truncate();
DROP TRIGGER IF EXISTS invoices_invoicenumbersequence_no_truncate
    ON invoices_invoicenumbersequence;
CREATE TRIGGER invoices_invoicenumbersequence_no_truncate
    BEFORE TRUNCATE ON invoices_invoicenumbersequence
    FOR EACH STATEMENT EXECUTE FUNCTION invoices_refuse_truncate();

-- Only called when the WHEN clause saw a stored id change; TG_ARGV[0] names the column.
CREATE OR REPLACE FUNCTION invoices_refuse_stripe_id_rewrite() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%.% is set once: % cannot become %', TG_TABLE_NAME, TG_ARGV[0],
        to_jsonb(OLD) ->> TG_ARGV[0], COALESCE(to_jsonb(NEW) ->> TG_ARGV[0], 'NULL')
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS invoices_invoice_stripe_id_once ON invoices_invoice;
CREATE TRIGGER invoices_invoice_stripe_id_once
    BEFORE UPDATE OF stripe_invoice_id ON invoices_invoice FOR EACH ROW
    WHEN (OLD.stripe_invoice_id <> ''
          AND NEW.stripe_invoice_id IS DISTINCT FROM OLD.stripe_invoice_id)
    EXECUTE FUNCTION invoices_refuse_stripe_id_rewrite('stripe_invoice_id');
DROP TRIGGER IF EXISTS invoices_invoiceline_stripe_id_once ON invoices_invoiceline;
CREATE TRIGGER invoices_invoiceline_stripe_id_once
    BEFORE UPDATE OF stripe_invoice_item_id ON invoices_invoiceline FOR EACH ROW
    WHEN (OLD.stripe_invoice_item_id <> ''
          AND NEW.stripe_invoice_item_id IS DISTINCT FROM OLD.stripe_invoice_item_id)
    EXECUTE FUNCTION invoices_refuse_stripe_id_rewrite('stripe_invoice_item_id');
DROP TRIGGER IF EXISTS accounts_customer_stripe_id_once ON accounts_customer;
CREATE TRIGGER accounts_customer_stripe_id_once
    BEFORE UPDATE OF stripe_customer_id ON accounts_customer FOR EACH ROW
    WHEN (OLD.stripe_customer_id <> ''
          AND NEW.stripe_customer_id IS DISTINCT FROM OLD.stripe_customer_id)
    EXECUTE FUNCTION invoices_refuse_stripe_id_rewrite('stripe_customer_id');
"""

DROP = """
DROP TRIGGER IF EXISTS accounts_customer_stripe_id_once ON accounts_customer;
DROP TRIGGER IF EXISTS invoices_invoiceline_stripe_id_once ON invoices_invoiceline;
DROP TRIGGER IF EXISTS invoices_invoice_stripe_id_once ON invoices_invoice;
DROP FUNCTION IF EXISTS invoices_refuse_stripe_id_rewrite();
DROP TRIGGER IF EXISTS invoices_invoicenumbersequence_no_truncate
    ON invoices_invoicenumbersequence;
DROP TRIGGER IF EXISTS invoices_invoiceline_no_truncate ON invoices_invoiceline;
DROP TRIGGER IF EXISTS invoices_invoice_no_truncate ON invoices_invoice;
DROP FUNCTION IF EXISTS invoices_refuse_truncate();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_seat_no_overlap_postgres"),
        ("invoices", "0004_billing_run_queue"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['draft', 'finalized', 'paid', 'void'])), name='invoice_status_known', violation_error_message='Unknown invoice status.'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('paid_at__isnull', True), ('voided_at__isnull', True), _connector='OR'), name='invoice_never_paid_and_void', violation_error_message='An invoice cannot be both paid and void.'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'draft'), _negated=True), models.Q(('finalized_at__isnull', True), ('number__isnull', True), ('paid_at__isnull', True), ('voided_at__isnull', True)), _connector='OR'), name='invoice_draft_unnumbered', violation_error_message='A draft has no number, finalized_at, paid_at or voided_at.'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status__in', ['finalized', 'paid']), _negated=True), models.Q(('finalized_at__isnull', False), ('number__isnull', False)), _connector='OR'), name='invoice_finalized_numbered', violation_error_message='A finalized or paid invoice has a number and finalized_at.'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'void'), _negated=True), models.Q(('finalized_at__isnull', False), ('number__isnull', False)), models.Q(('finalized_at__isnull', True), ('number__isnull', True)), _connector='OR'), name='invoice_void_numbered_iff_finalized', violation_error_message='A void invoice has both number and finalized_at, or neither.'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('paid_at__isnull', False), ('status', 'paid')), models.Q(models.Q(('status', 'paid'), _negated=True), ('paid_at__isnull', True)), _connector='OR'), name='invoice_paid_at_iff_paid', violation_error_message='paid_at is set exactly when the invoice is paid.'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'void'), ('voided_at__isnull', False)), models.Q(models.Q(('status', 'void'), _negated=True), ('voided_at__isnull', True)), _connector='OR'), name='invoice_voided_at_iff_void', violation_error_message='voided_at is set exactly when the invoice is void.'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
