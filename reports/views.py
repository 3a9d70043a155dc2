import functools
import uuid
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from consumption.aggregation import daily_gpu_hours
from reports_site.paging import SEARCH_COUNT_LIMIT, Paginator
from reports_site.tenancy.models import Project

from . import services
from .charts import LINES, LineChart, bucket_chart, daily_chart
from .downloads import file_response, refusal, zip_response
from .filtersets import ReportFilterSet
from .formats import UnknownFormat, format_named
from .forms import ReportForm
from .models import Report
from .reading import Reading, bars, read_report
from .tables import PAGE_SIZES, ReportTable, page_size, save_columns

COUNT_LIMIT = 10_000


@login_required
@require_GET
def report_list(request: HttpRequest) -> HttpResponse:
    """Analytics > Reports: the reports the user may see, filtered, searched, sorted, paged."""
    reports = Report.objects.permitted(request.user, "read")
    # The summary a report's page shows is not wanted in the table.
    filterset = ReportFilterSet(request.GET, queryset=reports.defer("summary"))
    sort = request.GET.getlist("sort")
    found = filterset.qs
    if ordering := ReportTable.ordering(sort):
        found = found.order_by(*ordering)
    # The page is found by primary key (read from the far end past the middle); the table
    # then loads and shows those reports alone. Counting a large tenant's reports takes longer
    # than finding a page, so the count stops at a limit; only a page past it counts them all.
    # Text searches are the costly ones: their count stops earlier, with no pages past it.
    searches = filterset.searches_text()
    page = Paginator(
        found.values_list("pk", flat=True),
        page_size(request.GET.get("per_page")),
        count_limit=SEARCH_COUNT_LIMIT if searches else COUNT_LIMIT,
        pages_past_limit=not searches,
    ).get_page(request.GET.get("page"))
    paginator = page.paginator  # a page past the limit has its own, which counted every row
    table = ReportTable(found.filter(pk__in=list(page)), order_by=sort or None)
    table.configure(request)
    per_page = paginator.per_page
    if paginator.count == 0 and not reports.exists():
        table.empty_text = "No reports yet. Create one with + New report."
    return render(
        request,
        "reports/report_list.html",
        {
            "filterset": filterset,
            "table": table,
            "paginator": paginator,
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "page_sizes": sorted({*PAGE_SIZES, per_page}),
            "per_page": per_page,
            "columns": ReportTable.optional_columns(),
            "visible_columns": [column.name for column in table.columns],
            "search_keep": filterset.query_without("q"),
            "size_keep": filterset.query_without("per_page"),
        },
    )


@login_required
@require_GET
def report_row(request: HttpRequest, report_id) -> HttpResponse:
    """One row of the table, as it is now: Pending and Processing rows ask for it until they
    settle."""
    report = _get_report_for_user(request, report_id)
    table = ReportTable([report])
    table.configure(request)
    return HttpResponse(table.row_html(report))


@login_required
@require_POST
def report_columns(request: HttpRequest) -> HttpResponse:
    """Remember which columns the user wants in the table (or forget, back to the defaults)."""
    columns = None if "reset" in request.POST else request.POST.getlist("columns")
    save_columns(request.user, ReportTable, columns)
    return _back_to_list(request)


@login_required
@require_http_methods(["GET", "POST"])
def report_create(request: HttpRequest) -> HttpResponse:
    """+ New report: the form, and on a valid POST the report, Pending, in the table."""
    if not Project.objects.permitted(request.user, "read").exists():
        raise PermissionDenied("You need read access to at least one project to create a report.")
    form = ReportForm(request.POST or None, user=request.user, initial=_copied(request))
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


def _copied(request: HttpRequest) -> dict | None:
    """Duplicate (`?from=<report id>`): the form filled in with a report's settings and the next
    free name; nothing for a report the user may not see."""
    try:
        source_id = uuid.UUID(request.GET.get("from", ""))
    except ValueError:
        return None
    report = Report.objects.permitted(request.user, "read").filter(pk=source_id).first()
    if report is None:
        return None
    return ReportForm.initial_from(report, name=services.free_name(report.tenant_id, report.name))


@login_required
@require_GET
def report_detail(request: HttpRequest, report_id) -> HttpResponse:
    """A report's fields and status, and when it is Ready charts of its largest segments and all
    its rows, read from its file (or what its build kept of it, when the file cannot be read)."""
    report = _get_report_for_user(request, report_id)
    context = {"report": report}
    if report.is_ready:
        try:
            reading = read_report(
                report, sort=request.GET.get("sort"), page=request.GET.get("page")
            )
        except (OSError, ValueError):
            # The file is unreadable (the file check will say so): what the build kept of it,
            # its first rows and largest segments, stands in.
            context["preview"] = report.summary.get("preview", [])
            kept = report.summary.get("top", [])
            context["chart"] = bars((label, Decimal(hours), None) for label, hours in kept)
        else:
            context["reading"], context["chart"] = reading, reading.chart
            context["line_chart"] = _line_chart(report, reading)
    return render(request, "reports/report_detail.html", context)


def _line_chart(report: Report, reading: Reading) -> LineChart | None:
    """The largest segments' GPU allocation hours over time: per bucket, from the file, where
    the report has buckets (they are its time zone's); per UTC day, from the rollups, where not."""
    largest = reading.largest[:LINES]
    if report.bucket:
        return bucket_chart(reading.periods, largest, report)
    return daily_chart(daily_gpu_hours(**report.selection, segments=largest), largest)


@login_required
@require_GET
def report_status(request: HttpRequest, report_id) -> HttpResponse:
    """The status on a report's page, asked for every 2 s while the report is built; once it
    settles, the page reloads to show what it became."""
    report = _get_report_for_user(request, report_id)
    if report.is_settled:
        return HttpResponseClientRefresh()
    return render(request, "reports/_status.html", {"report": report})


@login_required
@require_GET
def report_download(request: HttpRequest, report_id) -> HttpResponse:
    """The file of a Ready report, as `<slugified name>.csv`, or in the format that `?format=`
    names (`.xlsx`, `.parquet`)."""
    report = _get_report_for_user(request, report_id)
    return _download(request, [report], request.GET.get("format"))


def selection_action(view):
    """A table action on the ticked reports: logged in, POST only; the view is given the
    reports, and a selection that cannot be used goes back to the list with its message (one
    the user may not see is a 404, as for a single report)."""

    @login_required
    @require_POST
    @functools.wraps(view)
    def action(request: HttpRequest) -> HttpResponse:
        try:
            reports = _get_selected_reports(request)
        except BadSelection as bad:
            return _back_with_error(request, bad)
        return view(request, reports)

    return action


@selection_action
def report_download_selected(request: HttpRequest, reports: list[Report]) -> HttpResponse:
    """The selected reports in the format of the button pressed (`format`; CSV without one):
    one as its file, several as a zip of their files."""
    return _download(request, reports, request.POST.get("format"))


def _download(request: HttpRequest, reports: list[Report], format_name: str | None) -> HttpResponse:
    """The reports' files in the named format, once the format is known, every report is Ready
    and the format holds them all."""
    try:
        file_format = format_named(format_name)
    except UnknownFormat as unknown:
        return _refused(request, str(unknown), status=400)
    not_ready = [report for report in reports if not report.is_ready]
    if not_ready:
        return _not_ready(request, not_ready)
    if problem := refusal(reports, file_format):
        return _refused(request, problem, status=409)
    if len(reports) == 1:
        return file_response(reports[0], file_format)
    return zip_response(reports, file_format)


@selection_action
def report_run_again(request: HttpRequest, reports: list[Report]) -> HttpResponse:
    """Run the selected reports again: for each, a new report with its settings and the next
    free name ("March (2)"), queued."""
    made = []
    for report in reports:
        try:
            made.append(services.run_again(request.user, report))
        except ValidationError as invalid:
            # Its settings may no longer hold (a period now longer than allowed, say).
            problems = "; ".join(invalid.messages)
            messages.error(request, f"{report.name!r} could not be run again: {problems}")
    if made:
        names = ", ".join(repr(report.name) for report in made)
        messages.success(request, f"In the queue: {names}.")
    return _back_to_list(request)


@selection_action
def report_duplicate(request: HttpRequest, reports: list[Report]) -> HttpResponse:
    """Duplicate, from the table: the new-report form filled in from the one selected report."""
    if len(reports) != 1:
        return _back_with_error(request, BadSelection("Select one report to duplicate."))
    return HttpResponseRedirect(f"{reverse('reports:report_create')}?from={reports[0].pk}")


@selection_action
def report_delete(request: HttpRequest, reports: list[Report]) -> HttpResponse:
    """Delete the selected reports, once the user has confirmed in a dialog that names them."""
    refused = services.refused_deletions(request.user, reports)
    if refused:
        template = "_delete_dialog.html" if request.htmx else "report_delete_refused.html"
        return render(request, f"reports/{template}", {"refused": refused}, status=403)
    if "confirm" not in request.POST:
        template = "_delete_dialog.html" if request.htmx else "report_delete.html"
        context = {"reports": reports, "next": _next_url(request)}
        return render(request, f"reports/{template}", context)
    count = services.delete_reports(request.user, reports)
    names = ", ".join(report.name for report in reports)
    messages.success(request, f"Deleted {count} report{'s' if count != 1 else ''}: {names}.")
    return _back_to_list(request)


def _get_report_for_user(request: HttpRequest, report_id) -> Report:
    # Another tenant's report, or one the user may not see, is simply not found.
    return get_object_or_404(Report.objects.permitted(request.user, "read"), pk=report_id)


def _get_selected_reports(request: HttpRequest) -> list[Report]:
    """The reports ticked in the table; one the user may not see is a 404, as for a single
    report."""
    raw = request.POST.getlist("ids")
    if not raw:
        raise BadSelection("Select at least one report.")
    try:
        ids = {uuid.UUID(value) for value in raw}
    except ValueError:
        raise BadSelection("The selection holds something that is not a report id.") from None
    reports = list(
        Report.objects.permitted(request.user, "read").filter(pk__in=ids).order_by("name")
    )
    if len(reports) != len(ids):
        raise Http404("No such report.")
    return reports


class BadSelection(Exception):
    """The selection sent with a table action cannot be used."""


def _not_ready(request: HttpRequest, reports: list[Report]) -> HttpResponse:
    return render(request, "reports/report_not_ready.html", {"reports": reports}, status=409)


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "reports/download_refused.html", {"message": message}, status=status)


def _back_with_error(request: HttpRequest, error: Exception) -> HttpResponse:
    messages.error(request, str(error))
    return _back_to_list(request)


def _next_url(request: HttpRequest) -> str:
    """Where the form came from (the list with its query), if that is a path of this site."""
    url = request.POST.get("next", "")
    if url.startswith("/") and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}
    ):
        return url
    return reverse("reports:report_list")


def _back_to_list(request: HttpRequest) -> HttpResponse:
    # Not redirect(): it would take a bare word for the name of a URL pattern.
    return HttpResponseRedirect(_next_url(request))
