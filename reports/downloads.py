"""A Ready report's CSV as an HTTP download: the one response the pages, the API and the admin
send."""

from django.http import FileResponse
from django.utils.text import slugify

from .models import Report


def download_name(report: Report) -> str:
    return f"{slugify(report.name) or 'report'}.csv"


def csv_response(report: Report) -> FileResponse:
    """The file of a Ready report (the caller checks that it is Ready and visible)."""
    response = FileResponse(
        report.file.open("rb"),
        as_attachment=True,
        filename=download_name(report),
        content_type="text/csv; charset=utf-8",
    )
    return response
