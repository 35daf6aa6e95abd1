from django import template

register = template.Library()


@register.filter
def show_when(bound_field) -> str:
    """ "serious=yes" for a conditional question of its form (TrackedForm.conditions): shown
    while that item has that value; "" for any other question."""
    form = bound_field.form
    controller, value = getattr(form, "conditions", {}).get(bound_field.name, ("", ""))
    return f"{controller}={value}" if controller in form.fields else ""
