"""The district console's forms. Each shows its errors beside its fields; the rules
that need the agreement (a grant's categories and dates) are checked by
``access.console.grant_problems`` and reported on the same fields."""

from __future__ import annotations

from django import forms
from django.core.validators import FileExtensionValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from access.agreements import CATEGORY_LABELS, ELEMENTS, EXHIBIT_B, FRAMEWORK_LABELS
from access.categories import SENSITIVE_CATEGORIES
from access.console import grant_problems
from access.models import Agreement, Grant, ProviderContact

SIGNED_FILE_MAX_BYTES = 10 * 1024 * 1024
# OneRoster's grade codes, in its order ("Other" names no grade a rule could mean).
GRADE_CHOICES = [
    ("IT", _("Infant/toddler")),
    ("PR", _("Preschool")),
    ("PK", _("Pre-kindergarten")),
    ("TK", _("Transitional kindergarten")),
    ("KG", _("Kindergarten")),
    *[(f"{n:02d}", f"{n}") for n in range(1, 14)],
    ("PS", _("Postsecondary")),
    ("UG", _("Ungraded")),
]
SUBPROCESSOR_ROWS = 5

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _pdf(upload) -> None:
    if upload and upload.size > SIGNED_FILE_MAX_BYTES:
        raise forms.ValidationError(_("The file is larger than 10 MB."))
    if upload and not upload.read(5).startswith(b"%PDF-"):
        raise forms.ValidationError(_("The file is not a PDF."))
    if upload:
        upload.seek(0)


class ProviderForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    services = forms.CharField(
        label=_("Services"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")


class ContactForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            (ProviderContact.Kind.PRIMARY, _("Primary contact")),
            (ProviderContact.Kind.TECHNICAL, _("Technical contact")),
            (ProviderContact.Kind.PRIVACY, _("Privacy or breach contact")),
        ],
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(label=_("Email"))
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)


class MemberForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)


class ClientForm(forms.Form):
    name = forms.CharField(
        label=_("Client name"),
        max_length=200,
        help_text=_("What the provider uses it for, such as “Nightly roster sync”."),
    )


class AgreementForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    reference = forms.CharField(label=_("Reference number"), max_length=100, required=False)
    services = forms.CharField(
        label=_("Services covered (Exhibit A)"), widget=forms.Textarea(attrs={"rows": 3})
    )
    data_elements = forms.MultipleChoiceField(
        label=_("Data elements (Exhibit B)"),
        choices=[(code, element.label) for code, element in ELEMENTS.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Check at least one data element.")},
    )
    term_start = forms.DateField(label=_("Term starts"), widget=DATE)
    term_end = forms.DateField(label=_("Term ends"), widget=DATE)
    disposition = forms.ChoiceField(
        label=_("At the end, the provider must"),
        choices=[
            (Agreement.Disposition.DELETE, _("Delete")),
            (Agreement.Disposition.TRANSFER, _("Transfer to the district")),
        ],
        widget=forms.RadioSelect,
    )
    disposition_extent = forms.ChoiceField(
        label=_("Which data"),
        choices=[
            (Agreement.Extent.COMPLETE, _("Complete")),
            (Agreement.Extent.PARTIAL, _("Partial")),
        ],
        widget=forms.RadioSelect,
    )
    disposition_due = forms.DateField(
        label=_("Disposition due by"),
        required=False,
        widget=DATE,
        help_text=_("Leave empty to use the district's number of days after a grant ends."),
    )
    security_framework = forms.ChoiceField(
        label=_("Security framework"), choices=list(FRAMEWORK_LABELS.items())
    )
    security_framework_detail = forms.CharField(
        label=_("Security framework details"), max_length=200, required=False
    )
    breach_contact = forms.CharField(label=_("Breach contact"), max_length=200)
    signed_on = forms.DateField(label=_("Signed on"), required=False, widget=DATE)
    signed_file = forms.FileField(
        label=_("Signed agreement (PDF, at most 10 MB)"),
        required=False,
        validators=[FileExtensionValidator(["pdf"]), _pdf],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for n in range(SUBPROCESSOR_ROWS):
            self.fields[f"sub_{n}_name"] = forms.CharField(
                label=_("Subprocessor"), max_length=200, required=False
            )
            self.fields[f"sub_{n}_purpose"] = forms.CharField(
                label=_("Purpose"), max_length=200, required=False
            )
            self.fields[f"sub_{n}_notice_date"] = forms.DateField(
                label=_("Notice date"), required=False, widget=DATE
            )

    @classmethod
    def initial_of(cls, agreement: Agreement) -> dict:
        initial = {
            name: getattr(agreement, name)
            for name in cls.base_fields
            if name != "signed_file" and hasattr(agreement, name)
        }
        for n, sub in enumerate(agreement.subprocessors[:SUBPROCESSOR_ROWS]):
            initial[f"sub_{n}_name"] = sub.get("name", "")
            initial[f"sub_{n}_purpose"] = sub.get("purpose", "")
            initial[f"sub_{n}_notice_date"] = sub.get("notice_date") or None
        return initial

    def groups(self):
        """The Exhibit B checkboxes, grouped, each with the category it opens."""
        chosen = set(self["data_elements"].value() or [])
        return [
            {
                "label": group.label,
                "elements": [
                    {
                        "code": element.code,
                        "label": element.label,
                        "category": CATEGORY_LABELS[element.category],
                        "checked": element.code in chosen,
                    }
                    for element in group.elements
                ],
            }
            for group in EXHIBIT_B
        ]

    def subprocessor_rows(self):
        return [
            [self[f"sub_{n}_{part}"] for part in ("name", "purpose", "notice_date")]
            for n in range(SUBPROCESSOR_ROWS)
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("term_start"), data.get("term_end")
        if start and end and end < start:
            self.add_error("term_end", _("The end date cannot be before the start date."))
        if (
            data.get("security_framework") == Agreement.Framework.OTHER
            and not data.get("security_framework_detail", "").strip()
        ):
            self.add_error("security_framework_detail", _("Describe the framework."))
        subprocessors = []
        for n in range(SUBPROCESSOR_ROWS):
            name = (data.get(f"sub_{n}_name") or "").strip()
            purpose = (data.get(f"sub_{n}_purpose") or "").strip()
            notice = data.get(f"sub_{n}_notice_date")
            if not (name or purpose or notice):
                continue
            if not name:
                self.add_error(f"sub_{n}_name", _("Name the subprocessor."))
                continue
            subprocessors.append(
                {
                    "name": name,
                    "purpose": purpose,
                    "notice_date": notice.isoformat() if notice else "",
                }
            )
        data["subprocessors"] = subprocessors
        return data


class GrantForm(forms.Form):
    legal_basis = forms.ChoiceField(
        label=_("Legal basis"),
        choices=[
            (Grant.LegalBasis.SCHOOL_OFFICIAL, _("School official (99.31(a)(1))")),
            (Grant.LegalBasis.CONSENT, _("Written consent (99.30)")),
            (Grant.LegalBasis.DIRECTORY, _("Directory information (99.31(a)(11))")),
        ],
        widget=forms.RadioSelect,
        help_text=_("Under the directory basis, only directory information may be shared."),
    )
    purpose = forms.CharField(
        label=_("Purpose, in words"),
        max_length=300,
        help_text=_("Families read it in their child's record of disclosures."),
    )
    categories = forms.MultipleChoiceField(
        label=_("Data categories"),
        choices=list(CATEGORY_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one category.")},
    )
    sensitive_confirmed = forms.BooleanField(
        label=_(
            "I confirm the provider needs the sensitive categories checked above "
            "(programs, health, discipline) for this purpose."
        ),
        required=False,
    )
    sensitive_reason = forms.CharField(
        label=_("Why the provider needs sensitive data"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    population = forms.ChoiceField(
        label=_("Which students"),
        choices=[
            (Grant.Population.DISTRICT, _("The whole district")),
            (Grant.Population.SCHOOLS, _("Chosen schools")),
            (Grant.Population.SECTIONS, _("Chosen sections")),
            (Grant.Population.RULES, _("Rules")),
        ],
        widget=forms.RadioSelect,
    )
    school_ids = forms.TypedMultipleChoiceField(
        label=_("Schools"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For chosen schools; for rules, the schools the rule applies at (none: all)."),
    )
    section_ids = forms.TypedMultipleChoiceField(
        label=_("Sections"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    course_title_contains = forms.CharField(
        label=_("Rule: course title contains"), max_length=100, required=False
    )
    grade_levels = forms.MultipleChoiceField(
        label=_("Rule: grade levels"),
        choices=GRADE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    shares_staff = forms.BooleanField(
        label=_("Share the teachers of these classes"), required=False
    )
    starts_on = forms.DateField(label=_("Starts on"), widget=DATE)
    ends_on = forms.DateField(label=_("Ends on"), widget=DATE)

    def __init__(self, *args, agreement: Agreement, schools, sections, **kwargs):
        super().__init__(*args, **kwargs)
        self.agreement = agreement
        self.fields["school_ids"].choices = [(s.pk, s.name) for s in schools]
        self.fields["section_ids"].choices = [(s.pk, str(s)) for s in sections]
        self.sensitive = sorted(SENSITIVE_CATEGORIES)

    @staticmethod
    def initial_of(grant: Grant) -> dict:
        initial = {
            name: getattr(grant, name) for name in GrantForm.base_fields if hasattr(grant, name)
        }
        initial["sensitive_confirmed"] = bool(grant.sensitive_confirmed_by_id)
        return initial

    def clean(self):
        data = super().clean()
        population = data.get("population")
        if population == Grant.Population.SCHOOLS and not data.get("school_ids"):
            self.add_error("school_ids", _("Choose at least one school."))
        if population == Grant.Population.SECTIONS and not data.get("section_ids"):
            self.add_error("section_ids", _("Choose at least one section."))
        if population == Grant.Population.RULES and not (
            data.get("course_title_contains", "").strip() or data.get("grade_levels")
        ):
            self.add_error(
                "course_title_contains", _("Give a course title, grade levels, or both.")
            )
        if population != Grant.Population.SCHOOLS and population != Grant.Population.RULES:
            data["school_ids"] = []
        if population != Grant.Population.SECTIONS:
            data["section_ids"] = []
        if population != Grant.Population.RULES:
            data["course_title_contains"], data["grade_levels"] = "", []
        if "categories" in data:  # a required field left empty is reported as such
            for field, messages in grant_problems(self.agreement, data).items():
                for message in messages:
                    self.add_error(field, message)
        return data


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the grant revoked?"), widget=forms.Textarea(attrs={"rows": 3})
    )


class AttestationForm(forms.Form):
    disposed_on = forms.DateField(label=_("Date of disposition"), widget=DATE)
    method = forms.ChoiceField(
        label=_("What was done"),
        choices=[
            (Agreement.Disposition.DELETE, _("Delete")),
            (Agreement.Disposition.TRANSFER, _("Transfer to the district")),
        ],
        widget=forms.RadioSelect,
    )
    statement = forms.CharField(
        label=_("Statement"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    file = forms.FileField(
        label=_("Signed attestation (PDF, at most 10 MB)"),
        required=False,
        validators=[FileExtensionValidator(["pdf"]), _pdf],
    )

    def clean_disposed_on(self):
        value = self.cleaned_data["disposed_on"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("The date cannot be in the future."))
        return value
