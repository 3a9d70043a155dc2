"""The Reports table (spec 4.4): one definition of the report's columns."""

import django_tables2 as tables
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from .models import Report, TableColumns

# Shown until the user chooses otherwise; the rest are offered in the Columns chooser.
DEFAULT_COLUMNS = ("name", "description", "status", "type", "created_by", "created_at", "period")
# Always shown: the row's checkbox, and the name that leads to the report's page.
FIXED_COLUMNS = ("selection", "name")


def _poll_attrs(name: str):
    """A row whose report is still being built asks for itself again until it settles."""

    def value(record: Report) -> str | None:
        if record.is_settled:
            return None
        return {
            "hx-get": reverse("reports:report_row", args=[record.pk]),
            "hx-trigger": "every 2s",
            "hx-swap": "outerHTML",
        }[name]

    return value


class ReportTable(tables.Table):
    selection = tables.TemplateColumn(
        template_name="reports/_select_cell.html", verbose_name="Select", orderable=False
    )
    name = tables.Column(verbose_name="Report", linkify=("reports:report_detail", [tables.A("pk")]))
    description = tables.Column()
    status = tables.TemplateColumn(
        template_name="reports/_status_badge.html", order_by=("status", "-created_at")
    )
    type = tables.Column()
    created_by = tables.Column()
    created_at = tables.DateTimeColumn(format="Y-m-d H:i")
    period = tables.Column(verbose_name="Collection period", order_by=("start", "end"))
    group_by = tables.Column()
    filter_by = tables.Column(orderable=False)
    row_count = tables.Column()
    file_size = tables.Column()
    status_updated_at = tables.DateTimeColumn(format="Y-m-d H:i")

    class Meta:
        model = Report
        fields = ()
        sequence = (
            "selection",
            "name",
            "description",
            "status",
            "type",
            "created_by",
            "created_at",
            "period",
            "group_by",
            "filter_by",
            "row_count",
            "file_size",
            "status_updated_at",
        )
        order_by = ("-created_at",)
        empty_text = "No reports match. Remove a filter, or clear them all."
        template_name = "reports/_table.html"
        attrs = {"class": "table", "id": "reports-table"}
        row_attrs = {
            "id": lambda record: f"report-{record.pk}",
            "data-status": lambda record: record.status,
            "data-name": lambda record: record.name,
            "hx-get": _poll_attrs("hx-get"),
            "hx-trigger": _poll_attrs("hx-trigger"),
            "hx-swap": _poll_attrs("hx-swap"),
        }

    @classmethod
    def optional_columns(cls) -> list[tuple[str, str]]:
        """(name, header) of the columns a user may show or hide."""
        table = cls(Report.objects.none())
        return [
            (column.name, column.header)
            for column in table.columns.all()
            if column.name not in FIXED_COLUMNS
        ]

    def configure(self, request: HttpRequest) -> None:
        """Show the columns the user chose (unknown names are dropped), or the defaults."""
        chosen = TableColumns.objects.filter(user=request.user, table=type(self).__name__).first()
        wanted = set(chosen.columns if chosen else DEFAULT_COLUMNS) | set(FIXED_COLUMNS)
        for column in self.columns.all():
            if column.name in wanted:
                self.columns.show(column.name)
            else:
                self.columns.hide(column.name)

    def render_filter_by(self, value: list[str]) -> str:
        return ", ".join(value) if value else "—"

    def render_file_size(self, value) -> str:
        return filesizeformat(value)

    def order_created_at(self, queryset, is_descending: bool):
        # The primary key breaks ties, so that paging is stable.
        prefix = "-" if is_descending else ""
        return queryset.order_by(f"{prefix}created_at", f"{prefix}pk"), True


def save_columns(user, table: type[tables.Table], columns: list[str]) -> list[str]:
    """Remember the user's choice of columns for a table; unknown names are dropped."""
    known = {name for name, _ in table.optional_columns()}
    kept = [name for name in columns if name in known]
    TableColumns.objects.update_or_create(
        user=user, table=table.__name__, defaults={"columns": kept}
    )
    return kept
