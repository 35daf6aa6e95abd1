from django.contrib import admin

from trialsite.sites.models import Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "time_zone", "is_active")
    search_fields = ("code", "name")
