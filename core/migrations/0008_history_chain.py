"""Every history row of core carries its link in the hash chain (core.chain); existing rows are sealed in id order."""

from functools import partial

from django.db import migrations, models

from core.chain import backfill


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0007_read_only_permission'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicaloutgoingemail',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicaloutgoingemail',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalprofile',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicalprofile',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicaluser',
            name='chain_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64),
        ),
        migrations.AddField(
            model_name='historicaluser',
            name='chain_previous',
            field=models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64),
        ),
        migrations.RunPython(partial(backfill, app_label='core'), migrations.RunPython.noop),
    ]
