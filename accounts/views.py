"""Sign in, sign out, the signed-in home, guardian invitations and password reset."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from access import emergency
from access.aggregates import analyst_states
from access.classes import teaches_classes
from access.deliveries import member_provider_ids
from access.districts import may_manage_district
from access.family import family_only, has_family_portal
from access.scoping import visible_students
from access.staff import has_school_view
from access.studies import is_researcher
from accounts import sign_in_guard
from accounts.models import Role
from accounts.selectors import guardian_invitation_counts, invitation_get_by_token
from accounts.services import guardian_invitations_send, invitation_accept, invitation_token_hash
from accounts.tasks import send_password_reset
from records.tenancy import tenant_scope
from studentdata.throttling import over_hourly_limit

ROUTE_DESCRIPTIONS = {
    "guardian": (_("Parent or guardian"), _("your children's whole record")),
    "eligible_student": (_("Student"), _("your own record")),
    "teacher": (_("Teacher"), _("the students on your current class rosters")),
    "school_staff": (_("School staff"), _("the students of your school")),
    "district_admin": (_("District administrator"), _("every student in the district")),
    "substitute": (_("Substitute teacher"), _("the rosters of the classes you cover today")),
    "emergency": (_("Emergency access"), _("the students you requested emergency access to")),
}
SCHOOL_ROLE_LABELS = {
    Role.PRINCIPAL: _("Principal"),
    Role.SCHOOL_ADMIN: _("School administrator"),
    Role.COUNSELOR: _("Counselor"),
    Role.NURSE: _("School nurse"),
    Role.SPECIAL_EDUCATION: _("Special-education staff"),
}
# The model keeps no verb for "password set": the state names are the view's own.
INVITATION_CLOSED = {
    "used": (
        _("This invitation was already used"),
        _(
            "A password has already been set with this link. Sign in with it, or use "
            "“Forgot your password?” on the sign-in page."
        ),
    ),
    "voided": (
        _("This invitation was replaced"),
        _("A newer invitation was sent after this one. Use the link in the most recent email."),
    ),
    "expired": (
        _("This invitation has expired"),
        _("This invitation has expired. Ask your school for a new one."),
    ),
}


class SignInView(auth_views.LoginView):
    template_name = "accounts/sign_in.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        hold = getattr(self.request, "sign_in_hold", None)  # set by accounts.sign_in_guard
        if hold is not None:
            return held_back(self.request, hold)
        return super().form_invalid(form)


@never_cache
def front_door(request):
    """``/``: the sign-in form for visitors, the home page for the signed in."""
    if not request.user.is_authenticated:
        return SignInView.as_view()(request)
    if family_only(request.viewer):
        return redirect("family:home")  # parents and eligible students have no other home
    if not request.viewer.has_access and member_provider_ids(request.user):
        return redirect("access:provider-home")  # a provider's people: their grants' page
    if not request.viewer.has_access and is_researcher(request.user):
        return redirect("access:research")  # researchers: their studies
    return home(request)


def home(request):
    viewer = request.viewer
    roles = []
    for route in viewer.routes:
        label, reach = ROUTE_DESCRIPTIONS[route.kind]
        if route.kind == "school_staff":
            label = SCHOOL_ROLE_LABELS.get(route.label, route.label.replace("_", " ").capitalize())
        roles.append({"label": label, "reach": reach})
    context = {
        "roles": roles,
        "district": viewer.district,
        "visible_count": visible_students(viewer).count() if viewer.has_access else 0,
        "manages_district": may_manage_district(viewer),
        "has_family_portal": has_family_portal(viewer),
        "teaches_classes": teaches_classes(viewer),
        "has_school_view": has_school_view(viewer),
        "may_request_emergency": emergency.may_request(viewer),
        "reviews_emergencies": emergency.may_review(viewer),
        "analyst_states": analyst_states(request.user),
    }
    return render(request, "accounts/home.html", context)


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "HEAD", "POST"])
def welcome(request, token: str):
    """``/welcome/<token>/``: a guardian's invitation link; they choose a password here."""
    invitation = invitation_get_by_token(token_hash=invitation_token_hash(token))
    if invitation is None:
        return render(request, "accounts/welcome_closed.html", {"state": "unknown"}, status=404)
    with tenant_scope(invitation.district_id):  # the district the link belongs to
        return _welcome(request, invitation)


def _welcome(request, invitation):
    if invitation.state != "open":
        title, message = INVITATION_CLOSED[invitation.state]
        context = {"state": invitation.state, "title": title, "message": message}
        return render(request, "accounts/welcome_closed.html", context, status=410)
    user = invitation.user
    form = SetPasswordForm(user, request.POST if request.method == "POST" else None)
    if form.is_valid():
        accepted = invitation_accept(invitation=invitation, form=form)
        if accepted is None:  # used in another tab between the two reads
            title, message = INVITATION_CLOSED["used"]
            context = {"state": "used", "title": title, "message": message}
            return render(request, "accounts/welcome_closed.html", context, status=410)
        login(request, accepted, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("accounts:home")
    status = 400 if form.is_bound else 200
    return render(
        request, "accounts/welcome.html", {"form": form, "username": user.username}, status=status
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def district_invitations(request):
    """``/district/invitations/``: a district admin invites the guardians who cannot sign in."""
    if not may_manage_district(request.viewer):
        raise PermissionDenied
    district = request.viewer.district
    if request.method == "POST":
        sent = guardian_invitations_send(actor=request.user, district=district)
        messages.success(
            request,
            ngettext("%(count)d invitation was sent.", "%(count)d invitations were sent.", sent)
            % {"count": sent},
        )
        return redirect("accounts:district-invitations")
    context = {
        "district": district,
        "counts": guardian_invitation_counts(district=district),
        "days": settings.INVITATION_DAYS,
    }
    return render(request, "accounts/district_invitations.html", context)


TOO_MANY_RESETS = _(
    "Too many password resets were asked for from your network. Try again in an hour."
)


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for a reset link. The mail is looked up, written and sent by a Celery task
    (``accounts.tasks.send_password_reset``): this request does the same work for a
    known address and an unknown one. Throttled per client address (a page that says so)
    and per email address (silently: whether any mail goes out is never shown)."""

    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password-reset-sent")

    def post(self, request, *args, **kwargs):
        client = sign_in_guard.client_address(request)
        if over_hourly_limit(f"password-reset:client:{client}", settings.RESET_PER_CLIENT_HOUR):
            form = self.get_form()
            form.is_valid()  # keeps what was typed
            form.add_error(None, TOO_MANY_RESETS)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        address = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        limit = settings.RESET_PER_ADDRESS_HOUR
        if not over_hourly_limit(f"password-reset:address:{address}", limit):
            send_password_reset.delay(email, get_language())
        return redirect(self.get_success_url())


password_reset = never_cache(PasswordResetView.as_view())
password_reset_sent = never_cache(
    auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html")
)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")

    def form_valid(self, form):
        # The emailed link proves the account is theirs: a hold on it ends here.
        sign_in_guard.release(form.user.get_username())
        return super().form_valid(form)


password_reset_confirm = PasswordResetConfirmView.as_view()
password_reset_complete = never_cache(
    auth_views.PasswordResetCompleteView.as_view(
        template_name="accounts/password_reset_complete.html"
    )
)


def held_back(request, hold: sign_in_guard.Hold):
    """The answer to a sign-in held back after repeated failures: why, and for how long."""
    response = render(
        request,
        "accounts/held_back.html",
        {"hold": hold, "network": hold.reason == sign_in_guard.NETWORK},
        status=429,
    )
    response["Cache-Control"] = "no-store"
    return response
