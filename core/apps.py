"""Core app configuration: role synchronisation and history guards after every migrate."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


def sqlite_fire_delete_triggers_on_replace(sender, connection, **kwargs):
    """SQLite's REPLACE deletes the conflicting row without firing DELETE triggers unless
    `recursive_triggers` is on. The evidence guards do not rely on it (they refuse the
    conflicting INSERT, on every connection); it keeps the other DELETE triggers (the
    incident tally) exact on ours. It is per connection, so it is set on each one."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA recursive_triggers = ON")


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from core.auth import connect_permission_cache
        from core.evidence import install_history_guards_after_migrate
        from core.roles import sync_roles_after_migrate
        from core.timezones import remember_on_sign_in

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="core.sync_roles")
        user_logged_in.connect(remember_on_sign_in, dispatch_uid="core.time_zone_on_sign_in")
        post_migrate.connect(
            install_history_guards_after_migrate, dispatch_uid="core.history_guards"
        )
        connect_permission_cache()
        connection_created.connect(
            sqlite_fire_delete_triggers_on_replace, dispatch_uid="core.sqlite_recursive_triggers"
        )
