"""Billing runs are queued by the API and run by the workers: a ``queued`` status, when the
run was asked for (``requested_at``, the new ordering), ``started_at`` empty until a worker
starts it, and ``error`` for a run that failed as a whole."""

import django.utils.timezone
from django.db import migrations, models


def requested_when_started(apps, schema_editor):
    BillingRun = apps.get_model("invoices", "BillingRun")
    BillingRun.objects.update(requested_at=models.F("started_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0003_immutability_triggers_postgres'),
    ]

    operations = [
        migrations.AddField(
            model_name='billingrun',
            name='requested_at',
            field=models.DateTimeField(default=django.utils.timezone.now,
                                       help_text='When the run was asked for.'),
            preserve_default=False,
        ),
        migrations.RunPython(requested_when_started, migrations.RunPython.noop),
        migrations.AddField(
            model_name='billingrun',
            name='error',
            field=models.TextField(blank=True, default='',
                                   help_text='Why the run as a whole failed, if it did.'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='billingrun',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True, help_text='Empty while queued.'),
        ),
        migrations.AlterField(
            model_name='billingrun',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'),
                                            ('done', 'Done'), ('failed', 'Done with failures')],
                                   default='queued', max_length=16),
        ),
        migrations.AlterModelOptions(
            name='billingrun',
            options={'ordering': ['-requested_at']},
        ),
    ]
