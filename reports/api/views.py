"""The reports API (spec 5), wire-compatible with Run:ai's: the same paths, parameters, field
names, status codes and error body. Scoping, creation and deletion go through the same querysets
and services as the pages."""

import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports import services
from reports.downloads import file_response, refusal
from reports.filtersets import ReportFilterSet
from reports.formats import CSV, FORMATS, PARQUET, XLSX, UnknownFormat, format_named
from reports.models import Report
from reports_site.client_address import client_address
from reports_site.tenancy.models import ServiceAccount, TokenFailure

from . import serializers as s
from . import tokens
from .errors import Conflict, as_sent, error_response
from .filtering import FIELDS, FilterError, parse_filter_by

# The service's field names, as the API spells them in error messages.

FILTER_BY = OpenApiParameter(
    "filterBy",
    {"type": "array", "items": {"type": "string"}},
    description=(
        "Conditions `field operator value`, comma-separated, all of which must hold. Fields: "
        "name, createdAt, createdBy, status. Operators: == != <= >= =@ (contains) !@ (does not "
        "contain) =^ (starts with) =$ (ends with); createdAt takes ISO 8601 times or dates "
        "with == != <= >=."
    ),
    explode=False,
)
REPORT_ID = OpenApiParameter("reportId", OpenApiTypes.UUID, OpenApiParameter.PATH)
FILE_FORMAT = OpenApiParameter(
    "format",
    str,
    enum=list(FORMATS),
    default=CSV.name,
    description=(
        "Extension (not in Run:ai's API): the file's format. csv (the default): Run:ai's CSV. "
        "xlsx: an Excel workbook, numbers and dates typed, names stored as text. parquet: "
        "typed columns (dates as date32, hours as decimal(38, 4), byte-hours as int64, money "
        "as decimal(38, 2), names as strings), named as the CSV's header names them."
    ),
)


def _errors(*codes: int) -> dict:
    return {code: OpenApiResponse(s.ErrorSerializer) for code in codes}


@extend_schema(
    methods=["GET"],
    operation_id="list_reports",
    parameters=[FILTER_BY, s.ListQuerySerializer],
    responses={200: s.ReportListSerializer, **_errors(400, 401, 403)},
)
@extend_schema(
    methods=["POST"],
    operation_id="create_report",
    request=s.ReportRequestSerializer,
    responses={202: s.ReportSerializer, **_errors(400, 401, 403, 409)},
)
@api_view(["GET", "POST"])
def reports(request: Request) -> Response:
    if request.method == "POST":
        return _create(request)
    params = _query(s.ListQuerySerializer, request)
    found = _filtered(request, params["search"])
    if "sortBy" in params:
        column = FIELDS[params["sortBy"]]
        prefix = "-" if params["sortOrder"] == "desc" else ""
        found = found.order_by(f"{prefix}{column}", f"{prefix}pk")
    else:
        found = found.order_by("created_at", "pk")
    page = found[params["offset"] : params["offset"] + params["limit"]]
    return Response({"reports": s.ReportSerializer(page, many=True).data})


def _create(request: Request) -> Response:
    body = s.ReportRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    fields = body.validated_data
    try:
        report = services.create_report(
            request.user,
            name=fields["name"],
            description=fields["description"],
            # Run:ai's clients send milliseconds; periods are kept to the second.
            start=fields["start"].replace(microsecond=0),
            end=fields["end"].replace(microsecond=0),
            group_by=fields["group_by"],
            filter_by=fields["filter_by"],
            bucket=fields["bucket"],
            time_zone=fields["time_zone"],
            costs=fields["costs"],
        )
    except services.DuplicateReportName as duplicate:
        raise Conflict(" ".join(duplicate.messages)) from None
    except ValidationError as invalid:
        raise as_sent(invalid, body) from None
    return Response(s.ReportSerializer(report).data, status=202)


@extend_schema(
    operation_id="count_reports",
    parameters=[FILTER_BY, s.SearchQuerySerializer],
    responses={200: s.CountSerializer, **_errors(400, 401, 403)},
)
@api_view(["GET"])
def report_count(request: Request) -> Response:
    params = _query(s.SearchQuerySerializer, request)
    return Response({"count": _filtered(request, params["search"]).count()})


@extend_schema(
    operation_id="are_reports_available",
    responses={200: s.AvailabilitySerializer, **_errors(401)},
)
@api_view(["GET"])
def report_availability(request: Request) -> Response:
    return Response({"isAvailable": True})


@extend_schema(
    methods=["GET"],
    operation_id="get_report_by_id",
    parameters=[REPORT_ID],
    responses={200: s.ReportSerializer, **_errors(400, 401, 403, 404)},
)
@extend_schema(
    methods=["DELETE"],
    operation_id="delete_report_by_id",
    parameters=[REPORT_ID],
    responses={204: None, **_errors(400, 401, 403, 404)},
)
@api_view(["GET", "DELETE"])
def report(request: Request, reportId: str) -> Response:  # noqa: N803 - the API's name
    found = _get_report_for_subject(request, reportId)
    if request.method == "DELETE":
        try:
            services.delete_reports(request.user, [found])
        except PermissionDenied as refused:
            raise exceptions.PermissionDenied(str(refused)) from None
        return Response(status=204)
    return Response(s.ReportSerializer(found).data)


class FileNegotiation(DefaultContentNegotiation):
    """The file endpoint's content negotiation: there `format` names the file's format (DRF
    would take it for a renderer's), and errors are JSON whatever Accept asks for, as the file
    itself is not rendered by DRF."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReportFile(APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(
        operation_id="download_report_by_id",
        parameters=[REPORT_ID, FILE_FORMAT],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
            # Extensions, with `format`.
            (200, XLSX.content_type): OpenApiResponse(OpenApiTypes.BINARY),
            (200, PARQUET.content_type): OpenApiResponse(OpenApiTypes.BINARY),
            **_errors(400, 401, 403, 404, 409),
        },
    )
    def get(self, request: Request, reportId: str):  # noqa: N803 - the API's name
        """The file of a Ready report: its CSV, or, with `format`, the same rows as XLSX or
        Parquet. 409 while the report is not Ready, or when it has more rows than the format
        holds."""
        found = _get_report_for_subject(request, reportId)
        try:
            file_format = format_named(request.query_params.get("format"))
        except UnknownFormat as unknown:
            raise exceptions.ValidationError({"format": str(unknown)}) from None
        if not found.is_ready:
            raise Conflict(f"The report is {found.status}; its file can be downloaded once Ready.")
        if problem := refusal([found], file_format):
            raise Conflict(problem)
        return file_response(found, file_format)


report_file = ReportFile.as_view()


@extend_schema(
    operation_id="batch_delete_reports",
    request=s.BatchDeleteRequestSerializer,
    responses={202: s.BatchDeleteResponseSerializer, **_errors(400, 401, 403)},
)
@api_view(["POST"])
def report_batch_delete(request: Request) -> Response:
    body = s.BatchDeleteRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    requested = list(dict.fromkeys(body.validated_data["ids"]))  # once each, in order
    ids = {raw_id: _uuid(raw_id) for raw_id in requested}
    found = {
        report.pk: report
        for report in Report.objects.permitted(request.user, "read").filter(
            pk__in=[pk for pk in ids.values() if pk]
        )
    }
    refused = {report.pk for report in services.refused_deletions(request.user, found.values())}
    accepted, failed = [], []
    for raw_id, pk in ids.items():
        if pk is None:
            failed.append({"id": raw_id, "code": 400, "message": "Not a report id (a UUID)."})
        elif pk not in found:
            failed.append({"id": raw_id, "code": 404, "message": "Report not found."})
        elif pk in refused:
            message = services.refusal_message([found[pk]])
            failed.append({"id": raw_id, "code": 403, "message": message})
        else:
            accepted.append(raw_id)
    services.delete_reports(request.user, [found[ids[raw_id]] for raw_id in accepted])
    return Response(
        {
            "accepted": accepted,
            "failed": failed,
            "totalRequested": len(requested),
            "totalAccepted": len(accepted),
            "totalFailed": len(failed),
        },
        status=202,
    )


@extend_schema(
    operation_id="grant_token",
    request=s.TokenRequestSerializer,
    responses={200: s.TokenResponseSerializer, **_errors(400, 401, 429)},
    auth=[],
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
def token(request: Request) -> Response:
    """A service account's access token, for `client_credentials` (clientID, clientSecret) or
    the deprecated `app_token` grant (appID, appSecret, as the runapy SDK sends them).

    Failed requests are counted per client ID and per address (TokenFailure). A client ID that
    has had its tries waits, right secret or not: it is the one being guessed. An address that
    has had its tries is refused wrong credentials, but the right secret of a client ID that is
    not locked still works from it: behind a proxy, every service account shares one address."""
    body = s.TokenRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    client_id, secret = body.validated_data["client_id"], body.validated_data["secret"]
    wait = TokenFailure.objects.client_id_wait(client_id)
    if wait:
        return _too_many_failures(wait)
    account = ServiceAccount.objects.authenticate(client_id, secret)
    if account is not None:
        access_token, lifetime = tokens.issue(account)
        return Response({"accessToken": access_token, "expiresIn": lifetime})
    wait = TokenFailure.objects.record_failure(client_id, client_address(request))
    if wait:
        return _too_many_failures(wait)
    return error_response(401, "Invalid client credentials.")


def _too_many_failures(wait: int) -> Response:
    return error_response(
        429, f"Too many failed attempts; try again in {wait} seconds.", {"Retry-After": str(wait)}
    )


def _query(serializer_class, request: Request) -> dict:
    """The query parameters, checked (400 naming the parameter otherwise)."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _filtered(request: Request, search: str) -> QuerySet[Report]:
    """The reports the caller may see, narrowed by filterBy and search (without the summary
    their pages show: lists never use it)."""
    found = Report.objects.permitted(request.user, "read").defer("summary")
    try:
        found = found.filter(parse_filter_by(request.query_params.getlist("filterBy")))
    except FilterError as bad:
        raise exceptions.ValidationError(str(bad)) from None
    return ReportFilterSet({"q": search}, queryset=found).qs


def _get_report_for_subject(request: Request, report_id: str) -> Report:
    # Another tenant's report, or one the caller may not see, is simply not found.
    pk = _uuid(report_id)
    if pk is None:
        raise exceptions.ValidationError("reportId: Not a report id (a UUID).")
    found = Report.objects.permitted(request.user, "read").filter(pk=pk).first()
    if found is None:
        raise exceptions.NotFound("Report not found.")
    return found


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
