"""Every history row of training carries its link in the hash chain (core.chain); existing rows are sealed in id order."""

from functools import partial

from django.db import migrations, models

from core.chain import backfill


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0006_limits_on_the_model'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalcourse',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalcourse',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalexerciseevaluation',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalexerciseevaluation',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalimprovementaction',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalimprovementaction',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalobjectiveresult',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalobjectiveresult',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalrecord',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalrecord',
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
            model_name='historicalsession',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalsession',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.RunPython(partial(backfill, app_label='training'), migrations.RunPython.noop),
    ]
