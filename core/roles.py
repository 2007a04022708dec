"""The five roles (Django groups) and their model permissions, gathered from every app.

Each app may have a `roles.py` (found through the app registry, core/discovery.py) with `PERMISSIONS = {group name: [patterns]}`
where a pattern is `app_label.codename` with shell wildcards (`incidents.view_*`).
A data migration creates the groups; after every `migrate` (`sync_roles_after_migrate`)
any group added to ROLE_NAMES since is created and the permissions of new models are
added too (additive: permissions granted by hand are kept).
"""

from fnmatch import fnmatchcase

from core.discovery import app_modules, last_migrated_app

COORDINATORS = "Coordinators"
PLAN_APPROVERS = "Plan approvers"
COMPLIANCE = "Compliance"
STAFF = "Staff"
# Sees and triages every incident that has no incident manager yet, confidential ones
# included, and is emailed every new report (incidents/roles.py, incidents/queries/).
INCIDENT_INTAKE = "Incident intake"
ROLE_NAMES = (COORDINATORS, PLAN_APPROVERS, COMPLIANCE, STAFF, INCIDENT_INTAKE)

PERMISSIONS = {
    COORDINATORS: ["core.view_history", "auth.view_user", "auth.view_group"],
    PLAN_APPROVERS: ["auth.view_user", "auth.view_group"],
    COMPLIANCE: [
        "core.read_only_everywhere",
        "core.view_history",
        "core.export_history",
        "core.view_historicaluser",
        "auth.view_user",
        "auth.view_group",
    ],
    STAFF: [],
    # Names the incident manager and the team: picks people from the user list.
    INCIDENT_INTAKE: ["auth.view_user"],
}


def reads_only(user):
    """Compliance reads everything and changes nothing in the admin, whatever other role the
    person holds (as Staff they still report and acknowledge on the self-service site)."""
    return (
        user.is_authenticated
        and not user.is_superuser
        and user.has_perm("core.read_only_everywhere")
    )


def role_patterns():
    """{group: [patterns]} merged from core and every app's roles module."""
    merged = {name: list(PERMISSIONS.get(name, [])) for name in ROLE_NAMES}
    for _, module in app_modules("roles"):
        if module.__name__ == __name__:
            continue
        for group, patterns in getattr(module, "PERMISSIONS", {}).items():
            merged.setdefault(group, []).extend(patterns)
    return merged


def sync_roles(apps, schema_editor=None):
    """Create the groups and grant the permissions matching their patterns."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Historical app registries (in migrations) have no models_module;
        # create_permissions skips such apps unless it is set.
        restore = getattr(app_config, "models_module", None)
        app_config.models_module = restore or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = restore

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    all_perms = list(
        Permission.objects.select_related("content_type").values_list(
            "id", "content_type__app_label", "codename"
        )
    )
    for group_name, patterns in role_patterns().items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = {
            pk
            for pk, app_label, codename in all_perms
            if any(fnmatchcase(f"{app_label}.{codename}", p) for p in patterns)
        }
        have = set(group.permissions.values_list("id", flat=True))
        missing = wanted - have
        if missing:
            group.permissions.add(*missing)


def sync_roles_after_migrate(sender, app_config=None, using="default", apps=None, **kwargs):
    # post_migrate fires once per app, after all migrations ran: sync once, on the last
    # signal, when every app's permissions exist (whichever app that is).
    if app_config is None or app_config is not last_migrated_app():
        return
    from django.apps import apps as global_apps

    sync_roles(global_apps)
