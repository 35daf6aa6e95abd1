"""A form's item as Bootstrap 5 markup, written in Python: the markup crispy-bootstrap5's
`as_crispy_field` gives (label, input, errors, help text; a fieldset and legend for a set of
radio buttons), without its templates.

A CRF page drew each item through crispy's templates and each input through Django's widget
templates, about 1 ms an item and 0.3 ms more an option of a radio item: of the WOMAC page's
70 ms, 38. Here Django's own inputs, selects and text areas are written as their templates
write them (any other widget is still drawn by Django), every value escaped as those templates
escape it, without the cost of Django's handling of lazy text in conditional_escape(), called
thousands of times a page. tests/trialsite/test_field_markup.py checks that every item of every
form entered here, and of the screening form, comes out as crispy draws it: blank, answered,
refused and read only."""

from html import escape

from django import forms
from django.forms.boundfield import BoundField
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe

STAR = '<span class="asteriskField">*</span>'


def field(bound: BoundField) -> SafeString:
    """`bound` drawn as crispy-bootstrap5's field.html draws it with `as_crispy_field`."""
    if bound.is_hidden:
        return mark_safe(_widget(bound))  # noqa: S308 -- escaped as it was written
    widget = bound.field.widget
    css = bound.css_classes()
    more = f" {_e(css)}" if css else ""

    def frame(classes: str) -> str:
        return f' id="div_{_e(bound.auto_id)}" class="{classes}{more}"'

    if isinstance(widget, forms.CheckboxInput):
        html = (
            f'<div class="mb-3"><div{frame("form-check")}>'
            f"{_input(bound, 'form-check-input')}{_label(bound, 'label', 'form-check-label')}"
            f"{_errors(bound)}{_help(bound)}</div></div>"
        )
    else:
        if isinstance(widget, forms.RadioSelect):
            body = _choices(bound)
        else:
            kind = "form-select" if isinstance(widget, forms.Select) else "form-control"
            body = f"{_input(bound, kind)}{_errors(bound)}{_help(bound)}"
        if not bound.label:
            inner = body
        elif not bound.use_fieldset:
            inner = f"{_label(bound, 'label', 'form-label')}{body}"
        else:
            describedby = bound.aria_describedby
            inner = (
                f"<fieldset{f' aria-describedby={_q(describedby)}' if describedby else ''}>"
                f"{_label(bound, 'legend', 'form-label')}{body}</fieldset>"
            )
        html = f"<div{frame('mb-3')}>{inner}</div>"
    return mark_safe(html)  # noqa: S308 -- every value escaped as it was written in


def _e(value) -> str:
    """`value` escaped for HTML, as Django's conditional_escape() does: markup already safe
    (SafeString, or anything with __html__) is taken as it is."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return escape(str(value))


def _q(value) -> str:
    """An attribute's value, quoted: as Django's templates write `value|stringformat:'s'`, text
    (safe or not) escaped."""
    return f'"{escape(str(value))}"'


def _input(bound: BoundField, kind: str) -> str:
    """The widget's input, with the classes crispy adds: the widget's name, `kind`, and
    is-invalid when refused."""
    widget = bound.field.widget
    classes = widget.attrs.get("class", "")
    name = type(widget).__name__.lower()
    if not classes:
        classes = name
    elif name not in classes:
        classes = f"{classes} {name}"
    for extra in (kind, "is-invalid") if bound.errors else (kind,):
        if extra not in classes.split():
            classes = f"{classes} {extra}"
    return _widget(bound, {"class": classes})


# Django's templates of the widgets written here (the others are drawn by Django).
_INPUT = {
    f"django/forms/widgets/{kind}.html"
    for kind in ("text", "number", "email", "url", "password", "hidden", "date", "datetime")
    + ("time", "checkbox", "search", "tel")
}
_SELECT = "django/forms/widgets/select.html"
_TEXTAREA = "django/forms/widgets/textarea.html"


def _widget(bound: BoundField, attrs: dict | None = None) -> str:
    """What `bound.as_widget(attrs=attrs)` gives, written here for Django's own inputs, selects
    and text areas as their templates write them; any other widget is drawn by Django."""
    widget = bound.field.widget
    template = widget.template_name
    if (template not in _INPUT and template not in (_SELECT, _TEXTAREA)) or (
        type(widget).render is not forms.Widget.render
    ):
        return bound.as_widget(attrs=attrs)
    if bound.field.localize:
        widget.is_localized = True
    attrs = bound.build_widget_attrs(attrs or {}, widget)
    if bound.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", bound.auto_id)
    context = widget.get_context(bound.html_name, bound.value(), attrs)["widget"]
    name, value = _e(context["name"]), context["value"]
    if template == _TEXTAREA:
        return (
            f'<textarea name="{name}"{_attributes(context["attrs"])}>\n'
            f"{_e(value) if value else ''}</textarea>"
        )
    if template == _SELECT:
        return f'<select name="{name}"{_attributes(context["attrs"])}>{_options(context)}</select>'
    shown = f" value={_q(value)}" if value is not None else ""
    attributes = _attributes(context["attrs"])
    return f'<input type={_q(context["type"])} name="{name}"{shown}{attributes}>'


def _options(context: dict) -> str:
    lines = []
    for group, options, _ in context["optgroups"]:
        if group:
            lines.append(f"<optgroup label={_q(group)}>")
        lines += [
            f"<option value={_q(o['value'])}{_attributes(o['attrs'])}>{_e(o['label'])}</option>"
            for o in options
        ]
        if group:
            lines.append("</optgroup>")
    return "".join(lines)


def _label(bound: BoundField, tag: str, classes: str) -> str:
    """The item's label (a legend for a fieldset), a star after it when it is required."""
    required = bound.field.required
    if required:
        classes += " requiredField"
    if tag == "legend":
        classes += " fs-6"
    for_ = f" for={_q(bound.id_for_label)}" if bound.id_for_label else ""
    return f'<{tag}{for_} class="{classes}">{_e(bound.label)}{STAR if required else ""}</{tag}>'


def _choices(bound: BoundField) -> str:
    """A set of radio buttons (or check boxes), an option a line, the errors after the last."""
    widget = bound.field.widget
    id_ = widget.attrs.get("id") or bound.auto_id
    attrs = bound.build_widget_attrs({"id": id_} if id_ else {})
    groups = widget.optgroups(bound.html_name, widget.format_value(bound.value()), attrs)
    invalid = " is-invalid" if bound.errors else ""
    name = _e(bound.html_name)
    lines = []
    for n, (group, options, _) in enumerate(groups):
        if group:
            lines.append(f"<strong>{_e(group)}</strong>")
        for m, option in enumerate(options):
            last = n == len(groups) - 1 and m == len(options) - 1
            lines.append(
                f'<div class="form-check"><input type={_q(option["type"])} '
                f'class="form-check-input{invalid}" name="{name}" '
                f"value={_q(localize(option['value'], use_l10n=False))}"
                f"{_attributes(option['attrs'])}>"
                f'<label for={_q(option["attrs"].get("id", ""))} class="form-check-label">'
                f"{escape(str(localize(option['label'], use_l10n=False)))}</label>"
                f"{_errors(bound) if last else ''}</div>"
            )
    return f"<div >{''.join(lines)}</div>{_help(bound)}"


def _attributes(attrs: dict) -> str:
    """Attributes as crispy's attrs.html writes them: a True one by its name, a False one not."""
    return "".join(
        f" {_e(name)}" if value is True else f" {_e(name)}={_q(value)}"
        for name, value in attrs.items()
        if value is not False
    )


def _errors(bound: BoundField) -> str:
    if not bound.errors:
        return ""
    auto_id = _e(bound.auto_id)
    lines = "".join(
        f'<p id="error_{n}_{auto_id}"><strong>{_e(error)}</strong></p>'
        for n, error in enumerate(bound.errors, start=1)
    )
    return f'<div id="{_e(bound.errors.field_id)}_error" class="invalid-feedback">{lines}</div>'


def _help(bound: BoundField) -> str:
    if not bound.help_text:
        return ""
    id_ = f'id="{_e(bound.auto_id)}_helptext" ' if bound.auto_id else ""
    # As crispy: help text is the form's own markup (|safe).
    return f'<div {id_}class="form-text">{bound.help_text}</div>'
