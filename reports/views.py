import csv
import itertools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_tables2 import RequestConfig

from reports_site.tenancy import permissions

from . import services
from .downloads import csv_response
from .filtersets import ReportFilterSet
from .forms import ReportForm
from .models import Report
from .tables import ReportTable

PAGE_SIZES = (10, 25, 50, 100)
PREVIEW_ROWS = 10


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    """Analytics > Reports: the reports the user may see, filtered, searched, sorted, paged."""
    reports = Report.objects.visible_to(request.user)
    filterset = ReportFilterSet(request.GET, queryset=reports)
    table = ReportTable(filterset.qs)
    per_page = _page_size(request)
    RequestConfig(request, paginate={"per_page": per_page}).configure(table)
    return render(
        request,
        "reports/report_list.html",
        {"filterset": filterset, "table": table, "page_sizes": PAGE_SIZES, "per_page": per_page},
    )


def _page_size(request: HttpRequest) -> int:
    try:
        size = int(request.GET.get("per_page", 25))
    except ValueError:
        return 25
    return size if size in PAGE_SIZES else 25


@login_required
@require_http_methods(["GET", "POST"])
def report_create(request: HttpRequest) -> HttpResponse:
    """+ New report: the form, and on a valid POST the report, Pending, in the table."""
    if not permissions.readable_projects(request.user).exists():
        raise PermissionDenied("You need read access to at least one project to create a report.")
    form = ReportForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            report = services.create_report(request.user, **form.report_fields())
        except ValidationError as invalid:
            form.add_service_errors(invalid.message_dict)
        else:
            messages.success(request, f"Report {report.name!r} is in the queue.")
            return redirect("reports:report_list")
    status = 400 if form.errors else 200
    return render(request, "reports/report_form.html", {"form": form}, status=status)


@login_required
@require_GET
def report_detail(request: HttpRequest, report_id) -> HttpResponse:
    """A report's fields and status, and when it is Ready the first rows of its CSV."""
    report = _get_report_for_user(request, report_id)
    preview = _preview(report) if report.is_ready else None
    return render(request, "reports/report_detail.html", {"report": report, "preview": preview})


@login_required
@require_GET
def report_download(request: HttpRequest, report_id) -> HttpResponse:
    """The CSV of a Ready report, as `<slugified name>.csv`."""
    report = _get_report_for_user(request, report_id)
    if not report.is_ready:
        return render(request, "reports/report_not_ready.html", {"report": report}, status=409)
    return csv_response(report)


def _get_report_for_user(request: HttpRequest, report_id) -> Report:
    # Another tenant's report, or one the user may not see, is simply not found.
    return get_object_or_404(Report.objects.visible_to(request.user), pk=report_id)


def _preview(report: Report) -> list[list[str]]:
    with report.file.open("rb") as file:
        lines = (line.decode("utf-8") for line in file)
        return list(itertools.islice(csv.reader(lines), PREVIEW_ROWS + 1))
