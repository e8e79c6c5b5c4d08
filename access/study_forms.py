"""The forms of research studies: a researcher's proposal, a district admin's decision,
invitations and the destruction attestation (result tables: reports/research_forms.py).

A proposal may be saved as a draft with only its title; submitting it asks for every
part of the written agreement (REQUIREMENTS 9), each data element tied to a research
question (data minimisation), and reports every gap beside its field.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from access import studies
from access.forms import DATE, GRADE_CHOICES, _pdf
from access.models import StudyVersion
from records.models import AcademicSession, District, School

MAX_QUESTIONS = 10


def _element_field(code: str) -> str:
    return f"element_{code}"


class StudyProposalForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    principal_investigator = forms.CharField(
        label=_("Principal investigator"), max_length=200, required=False
    )
    institution = forms.CharField(label=_("Institution"), max_length=200, required=False)
    purpose = forms.CharField(
        label=_("Purpose"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What the district learns from the study, and why it needs student data."),
    )
    research_questions = forms.CharField(
        label=_("Research questions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One per line, at most ten. Each data element below names the question it answers."
        ),
    )
    legal_basis = forms.ChoiceField(
        label=_("Legal basis (FERPA)"),
        required=False,
        widget=forms.RadioSelect,
        choices=[
            (StudyVersion.LegalBasis.STUDIES, _("Studies for the district: 34 CFR 99.31(a)(6)")),
            (
                StudyVersion.LegalBasis.AUDIT,
                _("Audit or evaluation of education programs: 99.31(a)(3), 99.35"),
            ),
        ],
    )
    school_ids = forms.MultipleChoiceField(
        label=_("Schools"), required=False, widget=forms.CheckboxSelectMultiple
    )
    grade_levels = forms.MultipleChoiceField(
        label=_("Grade levels"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=GRADE_CHOICES,
    )
    school_years = forms.MultipleChoiceField(
        label=_("School years"), required=False, widget=forms.CheckboxSelectMultiple
    )
    birth_dates_as = forms.ChoiceField(
        label=_("Birth dates released as"),
        widget=forms.RadioSelect,
        choices=[
            (StudyVersion.BirthDates.BIRTH_YEAR, _("Birth year")),
            (StudyVersion.BirthDates.AGE_BAND, _("Age band (3 years)")),
        ],
        initial=StudyVersion.BirthDates.BIRTH_YEAR,
    )
    irb_number = forms.CharField(label=_("IRB approval number"), max_length=100, required=False)
    irb_expires_on = forms.DateField(label=_("IRB approval expires"), required=False, widget=DATE)
    irb_file = forms.FileField(
        label=_("IRB approval letter (PDF)"), required=False, validators=[_pdf]
    )
    researcher_ids = forms.MultipleChoiceField(
        label=_("Named researchers"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only the people named here may receive the study's extracts."),
    )
    starts_on = forms.DateField(label=_("Start date"), required=False, widget=DATE)
    ends_on = forms.DateField(label=_("End date"), required=False, widget=DATE)
    destroy_by = forms.DateField(
        label=_("Data destroyed by"),
        required=False,
        widget=DATE,
        help_text=_(
            "When the study ends its key is destroyed; the researchers attest by this "
            "date that they destroyed every copy."
        ),
    )
    min_cell_size = forms.IntegerField(
        label=_("Minimum cell size of published results"),
        min_value=5,
        max_value=30,
        initial=10,
        help_text=_("No published count may describe fewer students (default 10)."),
    )

    def __init__(self, *args, version: StudyVersion, submitting: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.version, self.submitting = version, submitting
        district_id = version.district_id
        self.fields["school_ids"].choices = [
            (str(pk), name)
            for pk, name in School.unscoped.filter(district_id=district_id)
            .order_by("name")
            .values_list("pk", "name")
        ]
        self.fields["school_years"].choices = _school_year_choices(version)
        self.fields["researcher_ids"].choices = [
            (str(r.user_id), f"{r.user.get_full_name() or r.user.username} ({r.institution})")
            for r in studies.district_researchers(district_id)
        ]
        self.fields["min_cell_size"].min_value = version.district.min_cell_size
        for element in studies.DATA_ELEMENTS:
            self.fields[_element_field(element.code)] = forms.IntegerField(
                label=element.label,
                required=False,
                min_value=1,
                max_value=MAX_QUESTIONS,
                widget=forms.NumberInput,
            )
        if not self.is_bound:
            self.initial.update(_initial(version))

    def element_fields(self):
        return [self[_element_field(element.code)] for element in studies.DATA_ELEMENTS]

    def clean_research_questions(self):
        lines = [line.strip() for line in self.cleaned_data["research_questions"].splitlines()]
        questions = [line for line in lines if line]
        if len(questions) > MAX_QUESTIONS:
            raise forms.ValidationError(_("At most ten research questions."))
        return questions

    def clean(self):
        data = super().clean()
        if self.submitting:
            self._require_complete(data)
        questions = data.get("research_questions") or []
        for element in studies.DATA_ELEMENTS:
            name = _element_field(element.code)
            number = data.get(name)
            if number is not None and number > len(questions):
                self.add_error(name, _("There is no research question with this number."))
        starts, ends, destroy = data.get("starts_on"), data.get("ends_on"), data.get("destroy_by")
        if starts and ends and ends < starts:
            self.add_error("ends_on", _("The end date is before the start date."))
        if ends and destroy and destroy < ends:
            self.add_error("destroy_by", _("Data cannot be destroyed before the study ends."))
        irb_expires = data.get("irb_expires_on")
        if irb_expires and starts and irb_expires < starts:
            self.add_error("irb_expires_on", _("The IRB approval expires before the study starts."))
        return data

    REQUIRED_TO_SUBMIT = (
        "principal_investigator", "institution", "purpose", "research_questions", "legal_basis",
        "school_ids", "grade_levels", "school_years", "irb_number", "irb_expires_on",
        "researcher_ids", "starts_on", "ends_on", "destroy_by",
    )  # fmt: skip

    def _require_complete(self, data) -> None:
        for name in self.REQUIRED_TO_SUBMIT:
            if not data.get(name) and name not in self.errors:
                self.add_error(name, _("Needed before the proposal can be submitted."))
        if not data.get("irb_file") and not self.version.irb_file:
            self.add_error("irb_file", _("Needed before the proposal can be submitted."))
        if not any(data.get(_element_field(e.code)) for e in studies.DATA_ELEMENTS):
            self.add_error(
                None, _("Ask for at least one data element, each with its research question.")
            )

    def apply(self) -> StudyVersion:
        """Write the cleaned proposal into the draft version (saved)."""
        data, version = self.cleaned_data, self.version
        for name in ("title", "principal_investigator", "institution", "purpose",
                     "legal_basis", "birth_dates_as", "irb_number"):  # fmt: skip
            setattr(version, name, data.get(name) or "")
        for name in ("research_questions", "irb_expires_on", "starts_on", "ends_on",
                     "destroy_by", "min_cell_size"):  # fmt: skip
            setattr(version, name, data.get(name))
        version.school_ids = sorted(int(pk) for pk in data.get("school_ids") or [])
        version.grade_levels = list(data.get("grade_levels") or [])
        version.school_years = sorted(int(year) for year in data.get("school_years") or [])
        version.researcher_ids = sorted(int(pk) for pk in data.get("researcher_ids") or [])
        version.data_elements = [
            {"element": element.code, "question": data[_element_field(element.code)]}
            for element in studies.DATA_ELEMENTS
            if data.get(_element_field(element.code))
        ]
        if data.get("irb_file"):
            version.irb_file = data["irb_file"]
        # Only what the proposal says: never the state a concurrent submit wrote.
        version.save(update_fields=[*CONTENT_FIELDS, "irb_file"])
        return version


CONTENT_FIELDS = (
    "title", "principal_investigator", "institution", "purpose", "legal_basis",
    "birth_dates_as", "irb_number", "research_questions", "irb_expires_on", "starts_on",
    "ends_on", "destroy_by", "min_cell_size", "school_ids", "grade_levels", "school_years",
    "researcher_ids", "data_elements",
)  # fmt: skip


def _initial(version: StudyVersion) -> dict:
    initial = {
        name: getattr(version, name)
        for name in (
            "title",
            "principal_investigator",
            "institution",
            "purpose",
            "legal_basis",
            "birth_dates_as",
            "irb_number",
            "irb_expires_on",
            "starts_on",
            "ends_on",
            "destroy_by",
            "min_cell_size",
        )
    }
    initial["research_questions"] = "\n".join(version.research_questions)
    initial["school_ids"] = [str(pk) for pk in version.school_ids]
    initial["grade_levels"] = list(version.grade_levels)
    initial["school_years"] = [str(year) for year in version.school_years]
    initial["researcher_ids"] = [str(pk) for pk in version.researcher_ids]
    for item in version.data_elements:
        initial[_element_field(item["element"])] = item["question"]
    return initial


def _school_year_choices(version: StudyVersion) -> list[tuple[str, str]]:
    """The district's school years (those its sessions name), else the last five."""
    years = set(
        AcademicSession.unscoped.filter(
            district_id=version.district_id, kind=AcademicSession.Kind.SCHOOL_YEAR
        ).values_list("school_year", flat=True)
    )
    if not years:
        today = version.district.today()
        current = today.year + (1 if today.month >= 7 else 0)
        years = set(range(current - 4, current + 1))
    return [(str(year), f"{year - 1}–{str(year)[-2:]}") for year in sorted(years, reverse=True)]


class DecisionForm(forms.Form):
    # The version the admin read: a newer one sent meanwhile is not decided by mistake.
    version = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            ("approve", _("Approve: this version becomes the written agreement")),
            ("changes", _("Ask for changes")),
            ("reject", _("Reject")),
        ],
    )
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The researchers read it with the decision."),
    )


class ResearcherInviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    institution = forms.CharField(label=_("Institution"), max_length=200)


class StudyAttestationForm(forms.Form):
    destroyed_on = forms.DateField(label=_("Data destroyed on"), widget=DATE)
    statement = forms.CharField(
        label=_("Statement"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What was destroyed, where, and how (every copy, backups included)."),
    )


class ExtractProtectionForm(forms.ModelForm):
    """The district's k (REQUIREMENTS 11): the smallest group of students alike on their
    quasi-identifiers that an extract may release."""

    class Meta:
        model = District
        fields = ["k_anonymity"]
        labels = {"k_anonymity": _("k: the smallest group of alike students released")}
        help_texts = {
            "k_anonymity": _(
                "From 5 to 50 (default 10). Every student in an extract shares school, grade, "
                "birth year, sex, race and programs, as released, with at least k-1 others."
            )
        }

    def clean_k_anonymity(self):
        k = self.cleaned_data["k_anonymity"]
        if not 5 <= k <= 50:
            raise forms.ValidationError(_("Choose a k from 5 to 50."))
        return k
