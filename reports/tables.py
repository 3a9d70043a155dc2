"""The Reports table (spec 4.4): one definition of the report's columns; and the Schedules
table."""

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import django_tables2 as tables
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django_tables2.columns import BoundColumn

from .models import (
    Delivery,
    DeliveryStatus,
    Report,
    ReportSchedule,
    ReportStatus,
    RunStatus,
    TableColumns,
)

# Offered in the page-size choice; the query string may ask for any size up to the largest.
PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25


# Dates and times are read at a glance only on one line.
_ONE_LINE = {"td": {"class": "nowrap"}}


class UtcTimeColumn(tables.Column):
    """A moment as "2026-03-01 14:05", in UTC like every time in the table. (DateTimeColumn
    compiles its template again for every cell: a fifth of the table's time.)"""

    def render(self, value: datetime) -> str:
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"


def status_badge(report: Report) -> str:
    """The status as a badge; a failed report's message beneath it."""
    badge = format_html(
        '<span class="badge badge-{}">{}</span>', report.status.lower(), report.status
    )
    if report.status == ReportStatus.FAILED and report.status_message:
        badge += format_html('<span class="status-message">{}</span>', report.status_message)
    return badge


class ReportTable(tables.Table):
    # Every order ends with the primary key, so that pages never overlap or skip a report, and
    # so that the paginator can read a page from either end.
    selection = tables.Column(
        accessor="pk",
        verbose_name="Select",
        orderable=False,
        attrs={"td": {"class": "select-cell"}},
    )
    name = tables.Column(
        verbose_name="Report",
        linkify=("reports:report_detail", [tables.A("pk")]),
        order_by=("name_key", "pk"),  # regardless of letter case
    )
    description = tables.Column(order_by=("description", "pk"))
    status = tables.Column(order_by=("status", "-created_at", "-pk"))
    type = tables.Column(order_by=("type", "-created_at", "-pk"))
    created_by = tables.Column(order_by=("created_by", "pk"))
    created_at = UtcTimeColumn(
        verbose_name="Creation time (UTC)",
        order_by=("created_at", "pk"),
        attrs=_ONE_LINE,
    )
    period = tables.Column(
        verbose_name="Collection period", order_by=("start", "end", "pk"), attrs=_ONE_LINE
    )
    group_by = tables.Column(order_by=("group_by", "-created_at", "-pk"))
    filter_by = tables.Column(orderable=False)
    # Ours: how the rows split the period, and whether they have costs.
    bucket = tables.Column(orderable=False, empty_values=())
    time_zone = tables.Column(orderable=False)
    costs = tables.BooleanColumn(orderable=False, yesno="Yes,No")
    row_count = tables.Column(order_by=("row_count", "pk"))
    file_size = tables.Column(order_by=("file_size", "pk"))
    status_updated_at = UtcTimeColumn(
        verbose_name="Status updated (UTC)",
        order_by=("status_updated_at", "pk"),
        attrs=_ONE_LINE,
    )

    class Meta:
        model = Report
        fields = ()
        # Shown until the user chooses otherwise; the rest are offered in the Columns chooser.
        default_columns = (
            "name",
            "description",
            "status",
            "type",
            "created_by",
            "created_at",
            "period",
        )
        # Always shown: the row's checkbox, and the name that leads to the report's page.
        fixed_columns = ("selection", "name")
        sequence = (
            "selection",
            *default_columns,
            "group_by",
            "filter_by",
            "bucket",
            "time_zone",
            "costs",
            "row_count",
            "file_size",
            "status_updated_at",
        )
        order_by = ("-created_at",)
        empty_text = "No reports match. Remove a filter, or clear them all."
        template_name = "reports/_table.html"
        attrs = {"class": "table", "id": "reports-table"}
        # The rows are written by rows_html, not by the template.

    # Long texts are cut short with an ellipsis in their cells, and shown whole on hover (and on
    # the report's page).
    SHORTENED = ("name", "description", "created_by")

    @classmethod
    @cache
    def optional_columns(cls) -> tuple[tuple[str, str], ...]:
        """(name, header) of the columns a user may show or hide."""
        table = cls(Report.objects.none())
        return tuple(
            (column.name, column.header)
            for column in table.columns.all()
            if column.name not in cls.Meta.fixed_columns
        )

    @classmethod
    def ordering(cls, sort: list[str]) -> list[str]:
        """The fields that order the reports as the table does for `?sort=` (its default when
        none is asked; empty when what is asked names no orderable column)."""
        table = cls(Report.objects.none(), order_by=sort or None)
        return [
            str(field) for alias in table.order_by for field in table.columns[alias.bare].order_by
        ]

    def configure(self, request: HttpRequest) -> None:
        """Show the columns the user chose (unknown names are dropped), or the defaults."""
        chosen = TableColumns.objects.filter(user=request.user, table=type(self).__name__).first()
        meta = type(self).Meta
        wanted = set(chosen.columns if chosen else meta.default_columns) | set(meta.fixed_columns)
        for column in self.columns.all():
            if column.name in wanted:
                self.columns.show(column.name)
            else:
                self.columns.hide(column.name)

    def rows_html(self) -> SafeString:
        """The table's rows. Written here rather than by django-tables2's template, which is a
        template loop over cells that works out each cell's attributes anew (and draws each
        cell through BoundRow.get_cell, see `cells`): here a page's attributes are worked out
        once per column, and each cell is one format_html."""
        attrs = self._cell_attrs()
        return mark_safe("".join(self.row_html(row.record, attrs) for row in self.rows))

    def row_html(self, report: Report, attrs: dict[str, str] | None = None) -> SafeString:
        """A report's row: its cells, the name as the row's header; and while the report is
        unsettled, the htmx polling that replaces the row with itself until it settles (the
        report_row view)."""
        attrs = attrs or self._cell_attrs()
        cells = []
        for column, cell in self.cells(report):
            cell_attrs = attrs[column.name]
            if column.name in self.SHORTENED:
                text = column.accessor.resolve(report)
                cell_attrs = format_html('class="shortened" title="{}"', text)
            template = '<th scope="row" {}>{}</th>' if column.name == "name" else "<td {}>{}</td>"
            cells.append(format_html(template, cell_attrs, localize(cell)))
        polling = ""
        if not report.is_settled:
            polling = format_html(
                ' hx-get="{}" hx-trigger="every 2s" hx-swap="outerHTML"',
                reverse("reports:report_row", args=[report.pk]),
            )
        return format_html(
            '<tr id="report-{}" data-status="{}" data-name="{}"{}>{}</tr>',
            report.pk,
            report.status,
            report.name,
            polling,
            mark_safe("".join(cells)),
        )

    def cells(self, report: Report) -> Iterator[tuple[BoundColumn, str]]:
        """Each shown column's cell for a report, as django-tables2's BoundRow.items() gives it:
        the field's choice label or the accessor's value; the column's default for an empty
        one; else what the table's render_<name> (or the column's render) makes of it, given
        the arguments it names, put through the column's link. BoundRow works out the
        arguments a render function names for every cell (inspect.signature, a third of the
        page's time); here they are worked out once per function."""
        for column in self.columns:
            value = column.accessor.resolve(report)
            display = getattr(report, f"get_{column.accessor}_display", None)
            if display is not None:
                value = display()
            if value in column.column.empty_values:
                yield column, column.default
                continue
            arguments = {
                "value": value,
                "record": report,
                "column": column.column,
                "bound_column": column,
                "table": self,
            }
            named = _parameters(getattr(column.render, "__func__", column.render))
            cell = column.render(**{name: arguments[name] for name in named})
            yield column, column.link(cell, **arguments) if column.link else cell

    def _cell_attrs(self) -> dict[str, str]:
        """The attributes of each shown column's cells, as HTML."""
        return {column.name: column.attrs["td"].as_html() for column in self.columns}

    def render_selection(self, record: Report) -> str:
        # hx-preserve keeps the box (and whether it is ticked) when a polled row is replaced.
        return format_html(
            '<input type="checkbox" name="ids" value="{}" id="select-{}" class="row-select" '
            'form="report-actions" aria-label="Select {}" hx-preserve>',
            record.pk,
            record.pk,
            record.name,
        )

    def render_status(self, record: Report) -> str:
        return status_badge(record)

    def render_bucket(self, value: str) -> str:
        return value or "Whole period"

    def render_filter_by(self, value: list[str]) -> str:
        return ", ".join(value) if value else "—"

    def render_file_size(self, value) -> str:
        return filesizeformat(value)


@lru_cache(maxsize=256)
def _parameters(function) -> tuple[str, ...]:
    """The arguments a cell's render function takes, but `self` (for ReportTable.cells)."""
    return tuple(name for name in inspect.signature(function).parameters if name != "self")


def page_size(asked: str | None) -> int:
    """The page size the URL asks for, if a page can have it (a negative one has no first page,
    a huge one no end); else the default."""
    try:
        size = int(asked)
    except (TypeError, ValueError):
        return DEFAULT_PAGE_SIZE
    return size if 1 <= size <= PAGE_SIZES[-1] else DEFAULT_PAGE_SIZE


def save_columns(user, table: type[tables.Table], columns: list[str] | None) -> None:
    """Remember the user's choice of columns for a table (unknown names are dropped), or with
    None forget it: the table's defaults again."""
    if columns is None:
        TableColumns.objects.filter(user=user, table=table.__name__).delete()
        return
    known = {name for name, _ in table.optional_columns()}
    kept = [name for name in columns if name in known]
    TableColumns.objects.update_or_create(
        user=user, table=table.__name__, defaults={"columns": kept}
    )


def run_badge(status: str | None) -> str:
    """A schedule run's status as a badge (Made as a Ready report's, Failed as a Failed one's);
    a dash before the first run."""
    if not status:
        return "–"
    kind = {RunStatus.MADE: "ready", RunStatus.FAILED: "failed"}.get(status, "skipped")
    return format_html('<span class="badge badge-{}">{}</span>', kind, status)


def delivery_badge(delivery: Delivery) -> str:
    """A delivery's status as a badge (Delivered as a Ready report's, Failed as a Failed one's);
    its last error beneath it, final when Failed, the reason of the next attempt when Pending."""
    kind = {DeliveryStatus.DELIVERED: "ready", DeliveryStatus.FAILED: "failed"}.get(
        delivery.status, "processing"
    )
    badge = format_html('<span class="badge badge-{}">{}</span>', kind, delivery.status)
    if delivery.status != DeliveryStatus.DELIVERED and delivery.last_error:
        retrying = "" if delivery.status == DeliveryStatus.FAILED else "Retrying after: "
        badge += format_html(
            '<span class="status-message">{}{}</span>', retrying, delivery.last_error
        )
    return badge


class ReportScheduleTable(tables.Table):
    """The Schedules page: a row per schedule the user may see (with_last_run annotated)."""

    name = tables.Column(
        verbose_name="Schedule", linkify=("schedules:schedule_detail", [tables.A("pk")])
    )
    recurrence = tables.Column(verbose_name="Runs", accessor="recurrence__in_words")
    next_run = tables.Column(verbose_name="Next run", empty_values=())
    last_run_status = tables.Column(verbose_name="Last run", empty_values=())
    paused = tables.Column(empty_values=())
    owner_name = tables.Column(verbose_name="Owner")

    class Meta:
        model = ReportSchedule
        fields = ()
        sequence = ("name", "recurrence", "next_run", "last_run_status", "paused", "owner_name")
        # Few per tenant: listed by name, on one page.
        orderable = False
        empty_text = "No schedules yet. Create one with + New schedule."
        attrs = {"class": "table", "id": "schedules-table"}

    def render_next_run(self, record: ReportSchedule) -> str:
        if record.paused:
            return "–"
        [period] = record.upcoming(timezone.now(), 1)
        return local_time(period.due, record.schedule_time_zone)

    def render_last_run_status(self, value: str | None) -> str:
        return run_badge(value)

    def render_paused(self, record: ReportSchedule) -> str:
        if not record.paused:
            return "No"
        return format_html('Yes<span class="status-message">{}</span>', record.paused_reason)


def local_time(moment: datetime, zone: str) -> str:
    """A moment as the schedule's zone reads it: "2026-12-01 06:00 Europe/Paris"."""
    return f"{moment.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"
