"""The database guard of plan versions allows exactly the steps of PlanVersion.pipeline."""

from importlib import import_module

from core.workflow import all_steps
from plans.models import PlanVersion


def test_the_version_trigger_allows_the_steps_of_the_pipeline():
    migration = import_module("plans.migrations.0002_immutability_triggers")
    assert set(migration.ALLOWED_STEPS) == all_steps(PlanVersion)
