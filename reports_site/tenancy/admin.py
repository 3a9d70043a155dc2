from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet
from django.http import HttpRequest

from .models import (
    AccessRule,
    Cluster,
    Department,
    NodePool,
    Project,
    Role,
    RolePermission,
    ServiceAccount,
    Tenant,
    TokenFailure,
    User,
)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}


class NodePoolInlineFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if not self.instance._state.adding:
            return
        names = [
            form.cleaned_data.get("name")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if NodePool.DEFAULT in names:
            raise ValidationError(
                f"Every new cluster gets its '{NodePool.DEFAULT}' node pool; leave it out here."
            )


class NodePoolInline(admin.TabularInline):
    model = NodePool
    formset = NodePoolInlineFormSet
    extra = 0


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "uuid"]
    list_filter = ["tenant"]
    list_select_related = ["tenant"]
    search_fields = ["name", "uuid", "tenant__slug"]
    inlines = [NodePoolInline]


class OrgUnitAdmin(admin.ModelAdmin):
    """Node pools and departments: units that hang off a cluster."""

    list_display = ["name", "cluster", "tenant"]
    list_filter = ["cluster__tenant"]
    list_select_related = ["cluster__tenant"]
    search_fields = ["name", "cluster__name"]
    autocomplete_fields = ["cluster"]

    @admin.display(ordering="cluster__tenant__slug")
    def tenant(self, obj: NodePool | Department | Project) -> Tenant:
        return obj.cluster.tenant


admin.site.register(NodePool, OrgUnitAdmin)
admin.site.register(Department, OrgUnitAdmin)


@admin.register(Project)
class ProjectAdmin(OrgUnitAdmin):
    list_display = ["name", "department", "cluster", "tenant"]
    list_select_related = ["cluster__tenant", "department"]
    search_fields = ["name", "department__name", "cluster__name"]
    autocomplete_fields = ["cluster", "department"]


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "tenant"]


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    list_display = ["email", "full_name", "tenant", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["email", "full_name"]
    ordering = ["email"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name", "tenant"]}),
        (
            "Operator rights",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "tenant", "usable_password", "password1", "password2"],
            },
        )
    ]


@admin.register(ServiceAccount)
class ServiceAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "client_id", "is_active", "created_at"]
    list_filter = ["is_active", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["name", "client_id"]
    readonly_fields = ["client_id", "created_at"]
    fields = ["tenant", "name", "is_active", "client_id", "created_at"]
    actions = ["issue_new_secret"]

    def save_model(self, request, obj: ServiceAccount, form, change: bool) -> None:
        secret = None if change else obj.set_new_secret()
        super().save_model(request, obj, form, change)
        if secret:
            _show_secret_once(request, obj, secret)

    @admin.action(description="Issue a new secret (the old one stops working)")
    def issue_new_secret(self, request: HttpRequest, queryset: QuerySet[ServiceAccount]) -> None:
        for account in queryset:
            secret = account.set_new_secret()
            account.save(update_fields=["secret_hash"])
            _show_secret_once(request, account, secret)


def _show_secret_once(request: HttpRequest, account: ServiceAccount, secret: str) -> None:
    messages.warning(
        request,
        f"{account}: client ID {account.client_id}, secret {secret} "
        "(copy it now: it cannot be shown again).",
    )


@admin.register(TokenFailure)
class TokenFailureAdmin(admin.ModelAdmin):
    """Failed token requests being counted; deleting a row lifts that client ID's or address's
    wait at once."""

    list_display = ["kind", "key", "failures", "window_start"]
    list_filter = ["kind"]
    search_fields = ["key"]
    readonly_fields = ["kind", "key", "failures", "window_start"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TokenFailure | None = None) -> bool:
        return False


class RolePermissionInline(admin.TabularInline):
    model = RolePermission
    extra = 0


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]
    inlines = [RolePermissionInline]


@admin.register(AccessRule)
class AccessRuleAdmin(admin.ModelAdmin):
    list_display = ["subject", "role", "scope_type", "scope", "tenant", "created_at"]
    list_filter = ["scope_type", "role", "tenant"]
    list_select_related = [
        "tenant",
        "user",
        "service_account",
        "role",
        "cluster",
        "department__cluster",
        "project__cluster",
    ]
    search_fields = ["user__email", "service_account__name", "role__name"]
    autocomplete_fields = ["user", "service_account", "cluster", "department", "project"]
    fields = [
        "tenant",
        "user",
        "service_account",
        "role",
        "scope_type",
        "cluster",
        "department",
        "project",
    ]

    @admin.display(description="scope")
    def scope(self, obj: AccessRule) -> str:
        return obj.scope_label
