"""Django admin holds accounts and districts only.

No student, roster or record table is registered, and neither are role
memberships or object permissions: the admin must not become a side door into
student data. Those are managed in the product, where every change is checked.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from rest_framework.authtoken.admin import TokenProxy

from accounts.models import User

# An operator who could mint or read API tokens could read as anyone.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    # People's contact details stay off the lists and out of search.
    list_display = ("username", "district", "is_active", "is_staff", "is_superuser")
    list_filter = ("is_active", "is_staff", "district")
    search_fields = ("username",)
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("District", {"fields": ("district", "sourced_id", "phone")}),
    )
