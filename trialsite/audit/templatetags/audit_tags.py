from django import template

register = template.Library()


@register.filter
def model_label(obj) -> str:
    """ "app_label.ModelName" of a model instance, for the record history URL."""
    return obj._meta.label
