from django.contrib import admin

from reports.models import StateAnalyst


@admin.register(StateAnalyst)
class StateAnalystAdmin(admin.ModelAdmin):
    """Who may open a state's analyst pages (/state/): granted per state."""

    list_display = ("user", "state", "granted_at")
    search_fields = ("user__username", "state")
    autocomplete_fields = ("user",)
