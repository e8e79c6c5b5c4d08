"""``/district/security/``: a district admin's security settings — whether teachers need
a second factor too, and after how many idle minutes staff are signed out."""

from __future__ import annotations

import logging

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.staff import admin_pages
from records.models import District

logger = logging.getLogger(__name__)


class DistrictSecurityForm(forms.ModelForm):
    class Meta:
        model = District
        fields = ["teachers_need_second_factor", "staff_idle_minutes"]
        labels = {
            "teachers_need_second_factor": gettext_lazy("Teachers need a second factor too"),
            "staff_idle_minutes": gettext_lazy("Sign staff out after this many idle minutes"),
        }
        help_texts = {
            "teachers_need_second_factor": gettext_lazy(
                "District admins, principals, school admins, counselors, nurses and "
                "special-ed staff always need one. Families may choose one."
            ),
            "staff_idle_minutes": gettext_lazy("From 5 to 480. Families are not signed out."),
        }


@admin_pages(methods=("GET", "HEAD", "POST"))
def settings_page(request):
    district = District.objects.get(pk=request.viewer.district_id)
    form = DistrictSecurityForm(request.POST or None, instance=district)
    if form.is_valid():
        form.save()
        logger.info(
            "district %s security settings changed by user %s: %s",
            district.pk,
            request.user.pk,
            form.changed_data,
        )
        messages.success(
            request,
            _("The security settings are saved. They apply from each person's next page."),
        )
        return redirect("accounts:district-security")
    status = 400 if form.is_bound else 200
    return render(request, "accounts/district_security.html", {"form": form}, status=status)
