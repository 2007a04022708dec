"""Every history row of incidents carries its link in the hash chain (core.chain); existing rows are sealed in id order."""

from functools import partial

from django.db import migrations, models

from core.chain import backfill


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0007_triage_unassigned_permission'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalaction',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalaction',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalcategory',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalcategory',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalcommunication',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalcommunication',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalescalation',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalescalation',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalescalationrule',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalescalationrule',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalincident',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalincident',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalmessagetemplate',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalmessagetemplate',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalpostincidentreview',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalpostincidentreview',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalreferencecounter',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalreferencecounter',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalresponsetarget',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalresponsetarget',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalteammember',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalteammember',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicaltimelineentry',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicaltimelineentry',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.RunPython(partial(backfill, app_label='incidents'), migrations.RunPython.noop),
    ]
