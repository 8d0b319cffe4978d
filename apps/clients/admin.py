from django.contrib import admin

from apps.clients.models import ApiClient, ApiToken


class ApiTokenInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ApiToken
    fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "active", "scopes", "created_at")
    search_fields = ("name",)
    list_filter = ("active",)
    readonly_fields = ("id", "created_at")
    inlines = [ApiTokenInline]
