from django.contrib import admin

from records.models import District


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "nces_id", "timezone", "min_cell_size")
    search_fields = ("name", "slug")
