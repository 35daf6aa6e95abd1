"""What each page requires, declared on its view and enforced there.

Every view named by a URL pattern carries an `Access`:

    @requires("safety.view_adverseevent", objects={"pk": "safety.AdverseEvent"})
    def ae_detail(request, pk): ...

- `requires(*permissions)`: a signed-in user holding every permission named; with none named,
  any signed-in user (the view then decides per object, e.g. the one form view by the form).
- `objects` names the model each URL argument selects. Site-bound objects are looked up
  among the user's sites only (a 404 otherwise); the test generated from the URLconf
  (tests/trialsite/test_site_isolation.py) replays each such URL as users of another site.
- `public(view)`: no sign-in (log-in page, health check, password-set link).
- `by_token(view)`: the API's views (trialsite/api.py), which take no session: each request
  carries a personal token, and each endpoint checks the token user's permissions and sites
  through the same selectors as the pages.

A URL pattern whose view declares nothing fails that test.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


@dataclass(frozen=True)
class Access:
    permissions: tuple[str, ...] = ()
    objects: dict[str, str] = field(default_factory=dict)
    public: bool = False
    token: bool = False


def requires(*permissions: str, objects: dict[str, str] | None = None) -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(request, *args, **kwargs):
            if not request.user.has_perms(permissions):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        guarded = login_required(checked)
        guarded.access = Access(permissions=permissions, objects=dict(objects or {}))
        return guarded

    return decorate


def public(view: Callable) -> Callable:
    view.access = Access(public=True)
    return view


def by_token(view: Callable) -> Callable:
    view.access = Access(token=True)
    return view
