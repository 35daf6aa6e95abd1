"""Form items drawn in Python (trialsite/crf/bootstrap.py) come out as crispy-bootstrap5's
`as_crispy_field` draws them: every item of every form entered here and of the screening form,
blank, with answers, refused and read only, compared as HTML (attribute order and white space
aside)."""

import pytest
from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from django import forms
from django.template import Context, Template
from django.test.html import parse_html

from enrollment.forms import ScreeningForm
from trialsite.crf import bootstrap, registry
from trialsite.crf.registry import Kind

pytestmark = pytest.mark.django_db


def _answers(form) -> dict:
    """An answer to every item: an option of each choice (the last: not the first, which is
    often blank), text that is no number or date elsewhere (refused there)."""
    answers = {}
    for bound in form:
        choices = list(getattr(bound.field, "choices", []))
        if choices:
            answers[bound.html_name] = str(choices[-1][0])
        elif isinstance(bound.field.widget, forms.CheckboxInput):
            answers[bound.html_name] = "on"
        else:
            answers[bound.html_name] = "<b>not & this</b>"
    return answers


def _states(new_form):
    """(state, make) for forms made by `new_form(*args)`: a form is made for each drawing, so
    that neither sees what the other did to its widgets (crispy adds classes to them)."""

    def make(*args, disabled=False):
        def build():
            form = new_form(*args)
            if form.is_bound:
                form.is_valid()  # its errors are drawn with the items
            for field in form.fields.values():
                field.disabled = field.disabled or disabled
            return form

        return build

    blank = make()
    return [
        ("blank", blank),
        ("read only", make(disabled=True)),
        ("nothing answered", make({})),
        ("answered", make(_answers(blank()))),
        ("answered, read only", make(_answers(blank()), disabled=True)),
    ]


def _compare(name: str, new_form) -> set[str]:
    """Each item of the forms `new_form` makes, in each state, drawn both ways; the kinds of
    widget compared."""
    kinds = set()
    for state, make in _states(new_form):
        mine, crispys = make(), make()
        for item, field in mine.fields.items():
            ours = bootstrap.field(mine[item])
            theirs = as_crispy_field(crispys[item])
            assert parse_html(ours) == parse_html(theirs), (name, state, item)
            kinds.add(type(field.widget).__name__)
    return kinds


def test_every_item_of_every_form_is_drawn_as_crispy_draws_it(arm_a, arm_b, coordinator):
    visits = [*arm_a.visits.order_by("sequence"), *arm_b.visits.order_by("sequence")]
    compared, kinds = [], set()
    for definition in registry.forms():
        if not definition.entered_here:
            continue
        visit = None
        if definition.kind == Kind.PER_VISIT:
            visit = next(v for v in visits if definition.due_at(v))
        participant = visit.participant if visit else arm_a

        def new_form(*args, definition=definition, participant=participant, visit=visit):
            return definition.form(*args, participant=participant, visit=visit, user=coordinator)

        kinds |= _compare(definition.name, new_form)
        compared.append(definition.name)
    kinds |= _compare("screening", ScreeningForm)  # drawn by the same item template
    assert {"vas_pain", "womac", "prgf_preparation", "adverse_event", "end_of_study"} <= set(
        compared
    )
    assert {
        "CheckboxInput",
        "DateInput",
        "DateTimeInput",
        "HiddenInput",
        "NumberInput",
        "RadioSelect",
        "Select",
        "TextInput",
        "Textarea",
    } <= kinds


def test_help_text_errors_and_markup_in_labels_are_escaped_as_crispy_escapes_them():
    choices = [("R", "<b>Right</b>"), ("L", 'Left & "both"')]

    class Hostile(forms.Form):
        name = forms.CharField(label="<i>Name</i> & co", help_text="<em>as on the ID card</em>")
        knee = forms.ChoiceField(label="Knee <1>", choices=choices, widget=forms.RadioSelect)
        side = forms.ChoiceField(label="Side", choices=choices)
        seen = forms.BooleanField(label="Seen <today>", required=False)
        note = forms.CharField(widget=forms.Textarea, max_length=5)

    data = {
        "name": "",
        "knee": "X<script>",
        "side": "Y<script>",
        "seen": "on",
        "note": "\n<b>x</b>\ny",
    }
    drawn = {}
    for name in Hostile.base_fields:
        form = Hostile(data)
        form.is_valid()
        theirs = as_crispy_field(form[name])
        form = Hostile(data)
        form.is_valid()
        drawn[name] = str(bootstrap.field(form[name]))
        assert parse_html(drawn[name]) == parse_html(theirs), name
    assert "&lt;i&gt;Name&lt;/i&gt; &amp; co" in drawn["name"]
    assert "<em>as on the ID card</em>" in drawn["name"]  # help text is the form's own markup
    assert "&lt;b&gt;Right&lt;/b&gt;" in drawn["knee"] and "X&lt;script&gt;" in drawn["knee"]
    assert not any("<script>" in html for html in drawn.values())
    # A text area's first line break is dropped by browsers: Django writes one before the text.
    assert ">\n\n&lt;b&gt;x&lt;/b&gt;\ny</textarea>" in drawn["note"]


def test_the_template_filter_draws_the_field():
    form = forms.Form()
    form.fields["score"] = forms.IntegerField(label="Score")
    drawn = Template("{% load crf_tags %}{{ form.score|crf_field }}").render(
        Context({"form": form})
    )
    assert parse_html(drawn) == parse_html(bootstrap.field(form["score"]))
