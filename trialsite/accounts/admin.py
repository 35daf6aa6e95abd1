"""User and site management for administrators (superusers) only. Data managers manage users
through the users page of the application (trialsite/accounts/views.py), which cannot grant
superuser, staff or individual permissions nor set anyone's password. CRFs are not
registered here: data is entered through the app."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from trialsite.accounts.models import User


def superusers_only(request) -> bool:
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = superusers_only


@admin.register(User)
class TrialUserAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Sites and blinding", {"fields": ("sites", "is_blinded_assessor")}),
    )
    filter_horizontal = ("groups", "user_permissions", "sites")
    list_display = ("username", "first_name", "last_name", "email", "is_active", "role_list")
    list_filter = ("groups", "sites", "is_active", "is_staff")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def role_list(self, user: User) -> str:
        return ", ".join(sorted(user.role_names))


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(GroupAdmin):
    """Roles are defined in trialsite/roles.py; here they can be read, not changed."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
