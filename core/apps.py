"""Core app configuration: wires the role synchronisation after every migrate."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from core.roles import sync_roles_after_migrate
        from core.timezones import remember_on_sign_in

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="core.sync_roles")
        user_logged_in.connect(remember_on_sign_in, dispatch_uid="core.time_zone_on_sign_in")
