"""Django admin holds accounts and districts only.

No student, roster or record table is registered, and neither are role
memberships or object permissions: the admin must not become a side door into
student data. Those are managed in the product, where every change is checked.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "district", "is_active")
    list_filter = ("is_active", "is_staff", "district")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("District", {"fields": ("district", "sourced_id", "phone")}),
    )
