from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_tables2 import RequestConfig

from .filtersets import ReportFilterSet
from .models import Report
from .tables import ReportTable

PAGE_SIZES = (10, 25, 50, 100)


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
