"""SCIM 2.0 routes, mounted at /scim/v2/ (outside the REST API: a protocol of its own)."""

from django.urls import path, re_path

from directory import views

urlpatterns = [
    path("Users", views.collection(views.USERS)),
    path("Users/.search", views.search(views.USERS)),
    path("Users/<str:pk>", views.detail(views.USERS)),
    path("Groups", views.collection(views.GROUPS)),
    path("Groups/.search", views.search(views.GROUPS)),
    path("Groups/<str:pk>", views.detail(views.GROUPS)),
    path(".search", views.search_everything),
    path("ServiceProviderConfig", views.service_provider_config),
    path("Schemas", views.schemas),
    re_path(r"^Schemas/(?P<pk>[^/]+)$", views.schemas),
    path("ResourceTypes", views.resource_types),
    path("ResourceTypes/<str:pk>", views.resource_types),
]
