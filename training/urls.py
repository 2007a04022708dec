"""Self-service pages of the training app."""

from django.urls import path

from . import views

app_name = "training"
urlpatterns = [
    path("", views.mine, name="mine"),
]
