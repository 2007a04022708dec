"""Workflows: each status field's allowed steps are one table on its model, checked here.

A model declares its lifecycle as django-oscar's `AbstractOrder.pipeline` does:

    class PlanVersion(models.Model):
        pipeline = {
            Status.DRAFT: (Status.IN_REVIEW,),
            Status.IN_REVIEW: (Status.APPROVED, Status.DRAFT),
            ...
        }

`pipeline` maps each status to the statuses it may move to; a status with no
entry (or an empty one) is final. A model whose lifecycle field is not named
`status` says so with `pipeline_field`; `pipeline_noun` names the record in the
refusal ("A version that is draft cannot become published."), `pipeline_refusal` words it
otherwise. Services call `check_transition` before
they change the field; faces call `next_statuses` (through the app's `queries`,
which adds who may take each step) to offer only the steps that exist; the
tests walk every pair of every table; plan versions' database trigger is
tested against the same table.
"""

from core.errors import TransitionNotAllowed

# The refusal's words; a model may say it its own way with `pipeline_refusal` (same fields).
DEFAULT_REFUSAL = "{article} {name} that is {current} cannot become {target}."


def pipeline_of(model):
    """The model's table of allowed steps: status → tuple of next statuses."""
    pipeline = getattr(model, "pipeline", None)
    if pipeline is None:
        raise TypeError(f"{model.__name__} declares no pipeline.")
    return pipeline


def pipeline_field(model):
    return getattr(model, "pipeline_field", "status")


def next_statuses(instance, current=None):
    """The statuses `instance` may move to from `current` (default: its own status now)."""
    model = type(instance)
    current = getattr(instance, pipeline_field(model)) if current is None else current
    return tuple(pipeline_of(model).get(current, ()))


def may_become(instance, target, *, current=None):
    """Whether the table allows `instance` to move to `target` (staying put is no step)."""
    return target in next_statuses(instance, current)


def check_transition(instance, target, *, current=None, allow_same=False):
    """Refuse (TransitionNotAllowed) a step the model's table does not list.

    With `allow_same`, asking for the status the record already has is not a step and
    passes (an edit form that sends every field back).
    """
    model = type(instance)
    field = model._meta.get_field(pipeline_field(model))
    current = getattr(instance, field.attname) if current is None else current
    if allow_same and target == current:
        return
    if may_become(instance, target, current=current):
        return
    labels = dict(field.choices or ())
    name = str(getattr(model, "pipeline_noun", model._meta.verbose_name))
    refusal = getattr(model, "pipeline_refusal", DEFAULT_REFUSAL)
    raise TransitionNotAllowed(
        refusal.format(
            article="An" if name[:1].lower() in "aeiou" else "A",
            name=name,
            current=str(labels.get(current, current)).lower(),
            target=str(labels.get(target, target)).lower(),
        ),
        field=field.name,
    )


def all_steps(model):
    """Every (from, to) pair the table allows, for tests and for database triggers."""
    return {(source, target) for source, targets in pipeline_of(model).items() for target in targets}


def all_pairs(model):
    """Every (from, to) pair of distinct statuses of the model, allowed or not (tests walk them)."""
    field = model._meta.get_field(pipeline_field(model))
    values = [value for value, _label in field.choices]
    return [(source, target) for source in values for target in values if source != target]
