"""The Reports table (spec 4.4): one definition of the report's columns."""

import django_tables2 as tables
from django.template.defaultfilters import filesizeformat

from .models import Report


class ReportTable(tables.Table):
    name = tables.Column(verbose_name="Report", linkify=("reports:report_detail", [tables.A("pk")]))
    description = tables.Column()
    status = tables.TemplateColumn(
        template_name="reports/_status_badge.html", order_by=("status", "-created_at")
    )
    type = tables.Column()
    created_by = tables.Column(verbose_name="Created by")
    created_at = tables.DateTimeColumn(verbose_name="Creation time", format="Y-m-d H:i")
    period = tables.TemplateColumn(
        verbose_name="Collection period",
        template_code="{{ record.start|date:'Y-m-d' }} – {{ record.end|date:'Y-m-d' }}",
        order_by=("start", "end"),
    )
    # Offered in the column chooser, hidden by default.
    group_by = tables.Column(verbose_name="Segment by", visible=False)
    row_count = tables.Column(verbose_name="Rows", visible=False)
    file_size = tables.Column(verbose_name="Size", visible=False)
    status_updated_at = tables.DateTimeColumn(
        verbose_name="Status updated", format="Y-m-d H:i", visible=False
    )

    class Meta:
        model = Report
        fields = ()
        sequence = (
            "name",
            "description",
            "status",
            "type",
            "created_by",
            "created_at",
            "period",
            "group_by",
            "row_count",
            "file_size",
            "status_updated_at",
        )
        order_by = ("-created_at",)
        empty_text = "No reports match. Create one with + New report."
        attrs = {"class": "table"}

    def render_file_size(self, value) -> str:
        return filesizeformat(value)

    def order_created_at(self, queryset, is_descending: bool):
        # The primary key breaks ties, so that paging is stable.
        prefix = "-" if is_descending else ""
        return queryset.order_by(f"{prefix}created_at", f"{prefix}pk"), True
