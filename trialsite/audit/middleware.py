from trialsite.audit.context import set_session_user


class AuditContextMiddleware:
    """Attribute database changes made while serving a request to the logged-in user.

    Set on every request, anonymous ones included, so that a persistent connection never
    carries the previous request's user.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        set_session_user(getattr(request, "user", None))
        return self.get_response(request)
