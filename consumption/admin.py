from django.contrib import admin
from django.db import models, transaction
from django.db.models import Max, Min
from django.utils.text import Truncator

from reports_site.paging import AdminPaginator

from . import rollups
from .models import DAY_SECONDS, Price, UsageRollup, UsageSample, UsageSource
from .parsing import FIELDS


class TenantFilter(admin.SimpleListFilter):
    title = "tenant"
    parameter_name = "tenant"

    def lookups(self, request, model_admin):
        from reports_site.tenancy.models import Tenant

        return [(tenant.slug, tenant.name) for tenant in Tenant.objects.all()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(project__cluster__tenant__slug=self.value())
        return queryset


@admin.register(UsageSample)
class UsageSampleAdmin(admin.ModelAdmin):
    # The start and the fields after it, named as in a usage file: the model shows each in the
    # file's units (a date and time, whole GPUs and cores).
    list_display = ["workload", "project", "nodepool_name", *FIELDS[FIELDS.index("start") :]]
    list_filter = [TenantFilter]
    list_select_related = ["project__cluster", "nodepool"]
    raw_id_fields = ["project", "nodepool"]
    # Newest first by primary key: the one order every database can serve from an index.
    ordering = ["-pk"]
    paginator = AdminPaginator
    show_full_result_count = False
    search_fields = ["=workload"]
    search_help_text = "Exact workload name."

    @admin.display(description="node pool", ordering="nodepool__name")
    def nodepool_name(self, sample: UsageSample) -> str:
        return sample.nodepool.name

    def get_search_results(self, request, queryset, search_term):
        # An exact, case-sensitive match; case-insensitive lookups cannot use an index.
        if search_term:
            return queryset.filter(workload=search_term.strip()), False
        return queryset, False

    # Every change made here keeps the rollups exact, for the sample's old and new place.
    @transaction.atomic
    def save_model(self, request, obj: UsageSample, form, change: bool) -> None:
        before = UsageSample.objects.filter(pk=obj.pk) if change else UsageSample.objects.none()
        touched = list(before.values_list("project_id", "start_epoch"))
        super().save_model(request, obj, form, change)
        _refresh_around([*touched, (obj.project_id, obj.start_epoch)])

    @transaction.atomic
    def delete_model(self, request, obj: UsageSample) -> None:
        super().delete_model(request, obj)
        _refresh_around([(obj.project_id, obj.start_epoch)])

    @transaction.atomic
    def delete_queryset(self, request, queryset) -> None:
        spans = queryset.values("project_id").annotate(
            first=Min("start_epoch"), last=Max("start_epoch")
        )
        touched = [(s["project_id"], t) for s in spans for t in (s["first"], s["last"])]
        super().delete_queryset(request, queryset)
        _refresh_around(touched)


def _refresh_around(touched: list[tuple[int, int]]) -> None:
    """Refresh the rollups of the days these (project, start) pairs can reach."""
    rollups.refresh_around((project_id, start // DAY_SECONDS) for project_id, start in touched)


@admin.register(UsageRollup)
class UsageRollupAdmin(admin.ModelAdmin):
    list_display = ["project", "nodepool", "day", "gpu_allocated", "cpu_allocated"]
    list_filter = [TenantFilter]
    list_select_related = ["project__cluster", "nodepool__cluster"]
    raw_id_fields = ["project", "nodepool"]
    ordering = ["-pk"]
    paginator = AdminPaginator
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False  # rollups are derived from the samples

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageSource)
class UsageSourceAdmin(admin.ModelAdmin):
    """Sources hold no secret: only the name of the variable that holds the token."""

    list_display = [
        "name",
        "tenant",
        "cluster",
        "url",
        "enabled",
        "collected_until",
        "last_success_at",
        "last_error_short",
    ]
    list_filter = ["tenant", "enabled"]
    list_select_related = ["tenant", "cluster"]
    search_fields = ["name"]
    autocomplete_fields = ["tenant", "cluster"]
    readonly_fields = ["collected_until", "last_success_at", "last_error", "last_error_at"]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "cluster", "enabled"]}),
        ("Prometheus", {"fields": ["url", "token_env", "ca_file", "scrape_interval_seconds"]}),
        (
            "Whose usage it is",
            {
                "fields": [
                    "project_label",
                    "namespace_prefix",
                    "department_label",
                    "nodepool_label",
                    "exclude_namespaces",
                ]
            },
        ),
        (
            "Collection",
            {
                "fields": [
                    "start",
                    "lag_seconds",
                    "collected_until",
                    "last_success_at",
                    "last_error",
                    "last_error_at",
                ]
            },
        ),
    ]
    # Django 6 assumes https for a URL typed without a scheme; so do we, already.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="last error", ordering="last_error_at")
    def last_error_short(self, source: UsageSource) -> str:
        return Truncator(source.last_error).chars(80)


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    """A tenant's prices: each holds from its moment until the next one of the same resource
    and node pool (or, without a node pool, in the node pools that have none of their own)."""

    list_display = ["tenant", "resource", "nodepool", "amount", "currency", "valid_from"]
    list_filter = ["tenant", "resource", "currency"]
    list_select_related = ["tenant", "nodepool__cluster"]
    autocomplete_fields = ["tenant", "nodepool"]
    ordering = ["tenant", "resource", "-valid_from"]
