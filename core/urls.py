"""Self-service site root and the person's own settings."""

from django.urls import path

from core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("me/time-zone/", views.set_time_zone, name="set-time-zone"),
]
