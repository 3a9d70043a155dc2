from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    """Analytics > Reports. The table arrives with the reports themselves."""
    return render(request, "reports/report_list.html")
