from records.tenancy import tenant_scope


class TenantMiddleware:
    """Puts the signed-in user's district in force for the request (none → no rows).

    Token-authenticated API requests are authenticated inside the view, after this
    runs; ``studentdata.api.StudentDataApiView`` puts the district in force there.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        district_id = getattr(user, "district_id", None) if user is not None else None
        if user is None or not user.is_authenticated or district_id is None:
            return self.get_response(request)
        with tenant_scope(district_id):
            return self.get_response(request)
