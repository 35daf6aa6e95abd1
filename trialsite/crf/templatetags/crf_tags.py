from django import template

from trialsite.crf import bootstrap

register = template.Library()


@register.filter
def show_when(bound_field) -> str:
    """ "serious=yes" for a conditional question of its form (TrackedForm.conditions): shown
    while that item has that value; "" for any other question."""
    form = bound_field.form
    controller, value = getattr(form, "conditions", {}).get(bound_field.name, ("", ""))
    return f"{controller}={value}" if controller in form.fields else ""


@register.filter
def crf_field(bound_field):
    """The item drawn as crispy-bootstrap5 draws it, in a fraction of the time
    (trialsite/crf/bootstrap.py)."""
    return bootstrap.field(bound_field)
