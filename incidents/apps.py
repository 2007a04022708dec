"""Incidents app configuration."""

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self):
        from . import receivers  # noqa: F401  (connects the email delivery receiver)
