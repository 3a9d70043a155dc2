"""The report schedules API: ours, not Run:ai's (issue 16), beside its reports API with the same
authentication, error body and permission rules, another tenant's schedule not found (404).
Scoping and saving go through the same querysets and services as the Schedules page."""

import re
import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from reports import services
from reports.models import DeliveryTarget, ReportSchedule
from reports.scheduling import run_now

from . import serializers as s
from .errors import Conflict, as_sent

TAGS = ["report-schedules"]
SCHEDULE_ID = OpenApiParameter("scheduleId", OpenApiTypes.UUID, OpenApiParameter.PATH)
TARGET_ID = OpenApiParameter("targetId", OpenApiTypes.INT64, OpenApiParameter.PATH)


def _errors(*codes: int) -> dict:
    return {code: OpenApiResponse(s.ErrorSerializer) for code in codes}


def _extension(what: str) -> str:
    return f"{s.EXTENSION}{what}"


@extend_schema(
    methods=["GET"],
    operation_id="list_report_schedules",
    description=_extension(
        "the report schedules the caller may see: its own, or all of its tenant's with "
        "project read permission at tenant scope. By name."
    ),
    responses={200: s.ReportScheduleListSerializer, **_errors(401, 403)},
    tags=TAGS,
)
@extend_schema(
    methods=["POST"],
    operation_id="create_report_schedule",
    description=_extension(
        "a schedule that makes a report of each past period of its recurrence, owned by the "
        "caller (whose permissions its reports are made with). Monthly from the 1st at 06:00 "
        "UTC unless said. 409 when the tenant has a schedule of this name."
    ),
    request=s.ReportScheduleRequestSerializer,
    responses={201: s.ReportScheduleSerializer, **_errors(400, 401, 403, 409)},
    tags=TAGS,
)
@api_view(["GET", "POST"])
def report_schedules(request: Request) -> Response:
    if request.method == "POST":
        try:
            schedule = services.new_schedule(request.user)
        except PermissionDenied as refused:
            raise exceptions.PermissionDenied(str(refused)) from None
        return _saved(request, schedule, status=201)
    schedules = ReportSchedule.objects.permitted(request.user, "read").order_by("name_key", "pk")
    return Response({"schedules": s.ReportScheduleSerializer(schedules, many=True).data})


@extend_schema(
    methods=["GET"],
    operation_id="get_report_schedule",
    description=_extension("a report schedule."),
    parameters=[SCHEDULE_ID],
    responses={200: s.ReportScheduleSerializer, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@extend_schema(
    methods=["PATCH"],
    operation_id="update_report_schedule",
    description=_extension(
        "change the fields sent of a schedule (its owner, or with project delete permission "
        "at tenant scope). A changed recurrence makes the periods due from now on."
    ),
    parameters=[SCHEDULE_ID],
    request=s.ReportScheduleRequestSerializer(partial=True),
    responses={200: s.ReportScheduleSerializer, **_errors(400, 401, 403, 404, 409)},
    tags=TAGS,
)
@extend_schema(
    methods=["DELETE"],
    operation_id="delete_report_schedule",
    description=_extension("delete a schedule and its runs; the reports it made are kept."),
    parameters=[SCHEDULE_ID],
    responses={204: None, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@api_view(["GET", "PATCH", "DELETE"])
def report_schedule(request: Request, scheduleId: str) -> Response:  # noqa: N803 - the API's name
    if request.method == "GET":
        schedule = _get_schedule_for_subject(request, scheduleId, "read")
        return Response(s.ReportScheduleSerializer(schedule).data)
    schedule = _get_schedule_for_subject(request, scheduleId, "change")
    if request.method == "DELETE":
        schedule.delete()
        return Response(status=204)
    return _saved(request, schedule, status=200, partial=True)


def _saved(request: Request, schedule: ReportSchedule, status: int, partial=False) -> Response:
    """The schedule with the body's fields, saved; each of the model's errors under the name the
    client sent, and a name the tenant uses a 409."""
    body = s.ReportScheduleRequestSerializer(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    for field, value in body.validated_data.items():
        setattr(schedule, field, value)
    try:
        services.save_schedule(schedule)
    except services.DuplicateScheduleName as duplicate:
        raise Conflict(" ".join(duplicate.messages)) from None
    except ValidationError as invalid:
        raise as_sent(invalid, body) from None
    return Response(s.ReportScheduleSerializer(schedule).data, status=status)


@extend_schema(
    operation_id="pause_report_schedule",
    description=_extension("pause a schedule: it makes no report until resumed."),
    parameters=[SCHEDULE_ID],
    request=None,
    responses={200: s.ReportScheduleSerializer, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@api_view(["POST"])
def pause(request: Request, scheduleId: str) -> Response:  # noqa: N803 - the API's name
    schedule = _get_schedule_for_subject(request, scheduleId, "change")
    services.pause_schedule(request.user, schedule)
    schedule.refresh_from_db()
    return Response(s.ReportScheduleSerializer(schedule).data)


@extend_schema(
    operation_id="resume_report_schedule",
    description=_extension(
        "resume a schedule: it makes the reports of the periods due from now on (those that "
        "fell due while it was paused stay unmade; run-now makes the latest)."
    ),
    parameters=[SCHEDULE_ID],
    request=None,
    responses={200: s.ReportScheduleSerializer, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@api_view(["POST"])
def resume(request: Request, scheduleId: str) -> Response:  # noqa: N803 - the API's name
    schedule = _get_schedule_for_subject(request, scheduleId, "change")
    services.resume_schedule(schedule)
    schedule.refresh_from_db()
    return Response(s.ReportScheduleSerializer(schedule).data)


@extend_schema(
    operation_id="run_report_schedule_now",
    description=_extension(
        "make the report of the schedule's last complete period now, paused or not, as its "
        "owner: the run, Made (its report queued) or Failed (the schedule then paused, the "
        "message saying why)."
    ),
    parameters=[SCHEDULE_ID],
    request=None,
    responses={202: s.ScheduleRunSerializer, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@api_view(["POST"])
def run_schedule_now(request: Request, scheduleId: str) -> Response:  # noqa: N803
    schedule = _get_schedule_for_subject(request, scheduleId, "change")
    return Response(s.ScheduleRunSerializer(run_now(schedule)).data, status=202)


@extend_schema(
    operation_id="list_report_schedule_runs",
    description=_extension("the runs of a schedule, latest first: each period and its report."),
    parameters=[SCHEDULE_ID, s.PageQuerySerializer],
    responses={200: s.ScheduleRunListSerializer, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@api_view(["GET"])
def schedule_runs(request: Request, scheduleId: str) -> Response:  # noqa: N803
    schedule = _get_schedule_for_subject(request, scheduleId, "read")
    query = s.PageQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    offset, limit = query.validated_data["offset"], query.validated_data["limit"]
    runs = schedule.history()[offset : offset + limit]
    return Response({"runs": s.ScheduleRunSerializer(runs, many=True).data})


@extend_schema(
    methods=["GET"],
    operation_id="list_report_schedule_targets",
    description=_extension(
        "where a schedule's reports are sent once Ready, in the order they were added. A "
        "webhook's secret only for who may change the schedule."
    ),
    parameters=[SCHEDULE_ID],
    responses={200: s.DeliveryTargetListSerializer, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@extend_schema(
    methods=["POST"],
    operation_id="create_report_schedule_target",
    description=_extension(
        "send a schedule's reports made from now on to e-mail recipients, a webhook (signed "
        "with the secret in the answer) or a key prefix in object storage."
    ),
    parameters=[SCHEDULE_ID],
    request=s.DeliveryTargetRequestSerializer,
    responses={201: s.DeliveryTargetSerializer, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@api_view(["GET", "POST"])
def schedule_targets(request: Request, scheduleId: str) -> Response:  # noqa: N803
    if request.method == "POST":
        schedule = _get_schedule_for_subject(request, scheduleId, "change")
        return _target_saved(request, DeliveryTarget(schedule=schedule), status=201)
    schedule = _get_schedule_for_subject(request, scheduleId, "read")
    context = {"may_change": services.may_change_schedule(request.user, schedule)}
    targets = s.DeliveryTargetSerializer(schedule.targets.all(), many=True, context=context)
    return Response({"targets": targets.data})


@extend_schema(
    methods=["GET"],
    operation_id="get_report_schedule_target",
    description=_extension("a schedule's delivery target."),
    parameters=[SCHEDULE_ID, TARGET_ID],
    responses={200: s.DeliveryTargetSerializer, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@extend_schema(
    methods=["PATCH"],
    operation_id="update_report_schedule_target",
    description=_extension(
        "change the fields sent of a delivery target: enabled false stops sending the reports "
        "made from now on."
    ),
    parameters=[SCHEDULE_ID, TARGET_ID],
    request=s.DeliveryTargetRequestSerializer(partial=True),
    responses={200: s.DeliveryTargetSerializer, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@extend_schema(
    methods=["DELETE"],
    operation_id="delete_report_schedule_target",
    description=_extension("delete a delivery target with the record of its deliveries."),
    parameters=[SCHEDULE_ID, TARGET_ID],
    responses={204: None, **_errors(400, 401, 403, 404)},
    tags=TAGS,
)
@api_view(["GET", "PATCH", "DELETE"])
def schedule_target(request: Request, scheduleId: str, targetId: str) -> Response:  # noqa: N803
    if request.method == "GET":
        target = _get_target_for_subject(request, scheduleId, targetId, "read")
        may_change = services.may_change_schedule(request.user, target.schedule)
        return Response(s.DeliveryTargetSerializer(target, context={"may_change": may_change}).data)
    target = _get_target_for_subject(request, scheduleId, targetId, "change")
    if request.method == "DELETE":
        target.delete()
        return Response(status=204)
    return _target_saved(request, target, status=200, partial=True)


def _target_saved(request: Request, target: DeliveryTarget, status: int, partial=False) -> Response:
    """The target with the body's fields, checked by the model and saved; each of the model's
    errors under its field's name."""
    body = s.DeliveryTargetRequestSerializer(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    for field, value in body.validated_data.items():
        setattr(target, field, value)
    try:
        target.full_clean()
    except ValidationError as invalid:
        raise exceptions.ValidationError(invalid.message_dict) from None
    target.save()
    return Response(
        s.DeliveryTargetSerializer(target, context={"may_change": True}).data, status=status
    )


def _get_target_for_subject(
    request: Request, schedule_id: str, target_id: str, action: str
) -> DeliveryTarget:
    """A target of the schedule, for `action` on the schedule: 404 for one of another
    schedule, as for a schedule the caller may not see."""
    schedule = _get_schedule_for_subject(request, schedule_id, action)
    if not re.fullmatch(r"[0-9]{1,18}", target_id):
        raise exceptions.ValidationError("targetId: Not a target id (a whole number).")
    try:
        return schedule.targets.get(pk=int(target_id))
    except DeliveryTarget.DoesNotExist:
        raise exceptions.NotFound("Delivery target not found.") from None


def _get_schedule_for_subject(request: Request, schedule_id: str, action: str) -> ReportSchedule:
    """The schedule (services.schedule_for): 404 for one the caller may not see, as for another
    tenant's; 403 for one it sees but may not change."""
    try:
        pk = uuid.UUID(str(schedule_id))
    except ValueError:
        raise exceptions.ValidationError("scheduleId: Not a schedule id (a UUID).") from None
    try:
        return services.schedule_for(request.user, pk, action)
    except ReportSchedule.DoesNotExist:
        raise exceptions.NotFound("Report schedule not found.") from None
    except PermissionDenied as refused:
        raise exceptions.PermissionDenied(str(refused)) from None
