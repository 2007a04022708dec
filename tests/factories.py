"""Factories shared by every app's tests: users in the four roles."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import COMPLIANCE, COORDINATORS, PLAN_APPROVERS, STAFF


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("pw")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        """`UserFactory(groups=["Staff"])`: group names (created if missing)."""
        if create and extracted:
            self.groups.add(*[Group.objects.get_or_create(name=name)[0] for name in extracted])


def coordinator(**kwargs):
    return UserFactory(groups=[COORDINATORS, STAFF], is_staff=True, **kwargs)


def approver(**kwargs):
    return UserFactory(groups=[PLAN_APPROVERS, STAFF], is_staff=True, **kwargs)


def compliance(**kwargs):
    return UserFactory(groups=[COMPLIANCE, STAFF], is_staff=True, **kwargs)


def staff(**kwargs):
    return UserFactory(groups=[STAFF], **kwargs)
