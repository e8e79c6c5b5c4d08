"""Sign in, sign out, and the signed-in home that says what the account reaches."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from access.districts import may_manage_district
from access.scoping import visible_students

ROUTE_DESCRIPTIONS = {
    "guardian": ("Parent or guardian", "your children's whole record"),
    "eligible_student": ("Student", "your own record"),
    "teacher": ("Teacher", "the students on your current class rosters"),
    "school_staff": ("School staff", "the students of your school"),
    "district_admin": ("District administrator", "every student in the district"),
}


class SignInView(auth_views.LoginView):
    template_name = "accounts/sign_in.html"
    redirect_authenticated_user = True


@never_cache
def front_door(request):
    """``/``: the sign-in form for visitors, the home page for the signed in."""
    if not request.user.is_authenticated:
        return SignInView.as_view()(request)
    return home(request)


def home(request):
    viewer = request.viewer
    roles = []
    for route in viewer.routes:
        label, reach = ROUTE_DESCRIPTIONS[route.kind]
        if route.kind == "school_staff":
            label = route.label.replace("_", " ").capitalize()
        roles.append({"label": label, "reach": reach})
    context = {
        "roles": roles,
        "district": viewer.district,
        "visible_count": visible_students(viewer).count() if viewer.has_access else 0,
        "manages_district": may_manage_district(viewer),
    }
    return render(request, "accounts/home.html", context)
