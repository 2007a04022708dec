"""What the apps contribute, found through the app registry: core names no app."""

from importlib import import_module

from django.apps import apps
from django.utils.module_loading import module_has_submodule


def app_modules(name):
    """Each installed app's `name` module (`roles`, `panels`, `demo`), in INSTALLED_APPS order,
    as [(app_config, module)]; apps without one are skipped. The same lookup as Django's
    `autodiscover_modules`, which imports the modules but does not hand them back."""
    found = []
    for app_config in apps.get_app_configs():
        if module_has_submodule(app_config.module, name):
            found.append((app_config, import_module(f"{app_config.name}.{name}")))
    return found


def last_migrated_app():
    """The app config whose `post_migrate` Django sends last: `migrate` signals every app
    with a models module, in INSTALLED_APPS order (`emit_post_migrate_signal`)."""
    return [c for c in apps.get_app_configs() if c.models_module is not None][-1]
