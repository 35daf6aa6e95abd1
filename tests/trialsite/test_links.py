"""Links drawn many times a page (trialsite/links.py) are the URLs reverse() gives."""

import pytest
from django.urls import NoReverseMatch, reverse, set_script_prefix

from trialsite.links import link


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        ("participant_detail", (7,), {}),
        ("visit_detail", (7, 1234), {}),
        ("visit_detail", (0, 99999999999), {}),
        ("form_entry", (), {"participant_pk": 7, "visit_pk": 12, "form": "vas-pain"}),
        ("form_entry", (), {"participant_pk": 7, "form": "adverse-event", "number": 3}),
        ("form_entry", (), {"participant_pk": 7, "form": "adverse-event", "number": "new"}),
        ("form_entry", (), {"participant_pk": 7, "form": "end-of-study"}),
        ("home", (), {}),
    ],
)
@pytest.mark.parametrize("prefix", ["/", "/edc/"])
def test_a_link_is_the_url_reverse_gives(name, args, kwargs, prefix):
    set_script_prefix(prefix)
    try:
        for _ in range(2):  # made, then from the pattern kept
            assert link(name, *args, **kwargs) == reverse(name, args=args, kwargs=kwargs)
        assert link(name, *args, **kwargs).startswith(prefix)
    finally:
        set_script_prefix("/")


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        ("visit_detail", ("7", "x"), {}),  # text where the pattern takes digits
        ("participant_detail", (-1,), {}),
        ("form_entry", (), {"participant_pk": 7, "form": "VAS Pain"}),  # not a slug
        ("form_entry", (), {"participant_pk": 7, "form": "../admin"}),
        ("form_entry", (), {"participant_pk": 7, "form": "vas-pain", "number": "x1"}),
    ],
)
def test_what_reverse_refuses_a_link_refuses(name, args, kwargs):
    with pytest.raises(NoReverseMatch):
        reverse(name, args=args, kwargs=kwargs)
    with pytest.raises(NoReverseMatch):
        link(name, *args, **kwargs)
