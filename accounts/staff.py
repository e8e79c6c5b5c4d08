"""``/district/staff/``: a district admin's list of the district's staff and their roles,
with the forms that invite a staff member, give a role and end one."""

from __future__ import annotations

import logging

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.districts import may_manage_district
from accounts import second_factor, sign_in_guard
from accounts.models import Role, RoleChange, RoleMembership, User
from accounts.staff_services import role_assign, role_end, staff_invite
from records.models import School
from records.views.gates import gated_pages

admin_pages = gated_pages(may_manage_district, PermissionDenied)
logger = logging.getLogger(__name__)

ROLE_LABELS = {
    Role.DISTRICT_ADMIN: gettext_lazy("District administrator"),
    Role.PRINCIPAL: gettext_lazy("Principal"),
    Role.SCHOOL_ADMIN: gettext_lazy("School administrator"),
    Role.TEACHER: gettext_lazy("Teacher"),
    Role.COUNSELOR: gettext_lazy("Counselor"),
    Role.NURSE: gettext_lazy("School nurse"),
    Role.SPECIAL_EDUCATION: gettext_lazy("Special-education staff"),
}
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=list(ROLE_LABELS.items()))
    school = forms.ModelChoiceField(
        label=gettext_lazy("School"),
        queryset=School.unscoped.none(),
        required=False,
        help_text=gettext_lazy("Every role but district administrator is held at one school."),
    )
    begin_date = forms.DateField(label=gettext_lazy("From"), required=False, widget=DATE)
    end_date = forms.DateField(label=gettext_lazy("Until"), required=False, widget=DATE)

    def __init__(self, *args, district, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["school"].queryset = School.unscoped.filter(district=district).order_by("name")

    def clean(self):
        data = super().clean()
        role, school = data.get("role"), data.get("school")
        if role and role != Role.DISTRICT_ADMIN and school is None and "school" not in self.errors:
            self.add_error("school", _("Choose the school where this role is held."))
        if role == Role.DISTRICT_ADMIN and school is not None:
            self.add_error(
                "school", _("A district role is held at no school: leave the school empty.")
            )
        begin, end = data.get("begin_date"), data.get("end_date")
        if begin and end and end < begin:
            self.add_error("end_date", _("The end date cannot be before the start date."))
        return data


class InviteForm(RoleForm):
    email = forms.EmailField(label=gettext_lazy("Email"))
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150)
    field_order = ["first_name", "last_name", "email", "role", "school"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["begin_date"], self.fields["end_date"]


def _apply(form, refused: ValidationError) -> None:
    if hasattr(refused, "error_dict"):
        for field, errors in refused.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, refused.messages)


def _staff(district):
    history = RoleChange.unscoped.filter(district=district).select_related("actor")
    memberships = (
        RoleMembership.unscoped.filter(district=district)
        .select_related("school")
        .prefetch_related(
            Prefetch("changes", queryset=history.order_by("-changed_at", "-pk"), to_attr="history")
        )
    )
    return (
        User.objects.filter(district=district, role_memberships__isnull=False)
        .distinct()
        .prefetch_related(
            Prefetch(
                "role_memberships",
                queryset=memberships.order_by("role", "school__name", "pk"),
                to_attr="roles",
            )
        )
        .order_by("last_name", "first_name", "username")
    )


def _page(request, *, invite_form=None, role_forms=None, status=200):
    district = request.viewer.district
    today = request.viewer.today
    people = list(_staff(district))
    for person in people:
        for membership in person.roles:
            membership.label = ROLE_LABELS.get(membership.role, membership.role)
            membership.current = (
                membership.begin_date is None or membership.begin_date <= today
            ) and (membership.end_date is None or membership.end_date >= today)
            for change in membership.history:
                change.membership = membership  # its label, without another query
        person.history = sorted(
            (change for membership in person.roles for change in membership.history),
            key=lambda change: (change.changed_at, change.pk),
            reverse=True,
        )
        person.role_form = (role_forms or {}).get(person.pk) or RoleForm(
            district=district, prefix=f"u{person.pk}"
        )
    holds = sign_in_guard.account_holds(person.username for person in people)
    enrolled = second_factor.enrolled_among(people)
    for person in people:
        person.sign_in_hold = holds.get(person.username)
        person.has_second_factor = person.pk in enrolled
    listed = {person.pk for person in people}
    for pk, form in (role_forms or {}).items():
        if pk not in listed:  # no card to show the form's errors beside: say them above
            messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
    context = {
        "people": people,
        "invite_form": invite_form or InviteForm(district=district, prefix="invite"),
    }
    return render(request, "accounts/staff.html", context, status=status)


@admin_pages(methods=("GET", "HEAD", "POST"))
def staff_list(request):
    """The staff and their roles; a POST invites a new staff member."""
    district = request.viewer.district
    if request.method != "POST":
        return _page(request)
    form = InviteForm(request.POST, district=district, prefix="invite")
    if form.is_valid():
        data = form.cleaned_data
        try:
            staff_invite(
                actor=request.user,
                district=district,
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                role=data["role"],
                school=data["school"],
            )
        except ValidationError as refused:
            _apply(form, refused)
        else:
            messages.success(request, _("The invitation is sent."))
            return redirect("accounts:staff")
    return _page(request, invite_form=form, status=400)


@admin_pages(methods=("POST",))
def staff_role_assign(request, user_id: int):
    district = request.viewer.district
    person = get_object_or_404(User.objects, district=district, pk=user_id)
    form = RoleForm(request.POST, district=district, prefix=f"u{person.pk}")
    if form.is_valid():
        try:
            role_assign(actor=request.user, user=person, **form.cleaned_data)
        except ValidationError as refused:
            _apply(form, refused)
        else:
            messages.success(request, _("The role is given. It applies from the next page load."))
            return redirect("accounts:staff")
    return _page(request, role_forms={person.pk: form}, status=400)


@admin_pages(methods=("POST",))
def staff_role_end(request, membership_id: int):
    membership = get_object_or_404(
        RoleMembership.unscoped, district=request.viewer.district, pk=membership_id
    )
    if membership.user_id == request.user.pk and membership.role == Role.DISTRICT_ADMIN:
        messages.error(request, _("You cannot end your own district administrator role."))
        return redirect("accounts:staff")
    try:
        role_end(actor=request.user, membership=membership)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
    else:
        messages.success(request, _("The role is ended today."))
    return redirect("accounts:staff")


@admin_pages(methods=("POST",))
def staff_sign_in_release(request, user_id: int):
    """Lets a staff member whose sign-in is held after failed attempts sign in at once."""
    person = get_object_or_404(User.objects, district=request.viewer.district, pk=user_id)
    sign_in_guard.release(person.username)
    # Ids, not usernames: a username is often a person's name.
    logger.info("sign-in hold of user %s released by user %s", person.pk, request.user.pk)
    messages.success(request, _("They can sign in again now."))
    return redirect("accounts:staff")


@admin_pages(methods=("POST",))
def staff_second_factor_reset(request, user_id: int):
    """Forgets a staff member's authenticator app and recovery codes (a lost phone) and
    signs them out everywhere: they set up a new one when they next sign in."""
    person = get_object_or_404(User.objects, district=request.viewer.district, pk=user_id)
    second_factor.reset(person)
    logger.info("second factor of user %s reset by user %s", person.pk, request.user.pk)
    messages.success(
        request,
        _(
            "Their second factor is reset and they are signed out everywhere. They set up a "
            "new one when they next sign in."
        ),
    )
    return redirect("accounts:staff")
