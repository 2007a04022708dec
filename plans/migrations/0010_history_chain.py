"""Every history row of plans carries its link in the hash chain (core.chain); existing rows are sealed in id order."""

from functools import partial

from django.db import migrations, models

from core.chain import backfill


class Migration(migrations.Migration):

    dependencies = [
        ('plans', '0009_plan_limits'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalacknowledgement',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalacknowledgement',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalacknowledgementnotice',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalacknowledgementnotice',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalplan',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalplan',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalplanchangerequest',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalplanchangerequest',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalplanversion',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalplanversion',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalreminderclock',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalreminderclock',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalreview',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalreview',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalsection',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalsection',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.RunPython(partial(backfill, app_label='plans'), migrations.RunPython.noop),
    ]
