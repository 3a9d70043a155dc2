"""The API's bodies and query parameters, with Run:ai's field names (and ours, camelCase as
theirs, for report schedules)."""

from datetime import time

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from consumption.buckets import Bucket
from consumption.measures import GROUP_BY
from reports.models import (
    DELIVERY_MAX_RECIPIENTS,
    DeliveryKind,
    DeliveryStatus,
    DeliveryTarget,
    ReportStatus,
    RunStatus,
)
from reports.recurrence import Frequency

from .filtering import FIELDS

INT32_MAX = 2**31 - 1
# Our fields beyond Run:ai's: a request without them makes exactly Run:ai's report.
BUCKET_HELP = (
    "Extension (not in Run:ai's API): rows per Day, Week (ISO, Monday first) or Month of "
    "timeZone, with a leading `Period start` column; null for one row per segment."
)
GROUP_BY_HELP = (
    "Run:ai's Project, Department, Cluster or Nodepool; or Workload, an extension (not in "
    "Run:ai's API): rows per workload of each project, with a `Workload` column."
)
COSTS_HELP = (
    "Extension (not in Run:ai's API): cost columns (GPU, GPU idle, CPU, CPU memory and total "
    "cost, each headed with the currency) at the tenant's prices; a report whose usage some "
    "price is missing for fails, naming it."
)
TIME_ZONE_HELP = (
    "Extension (not in Run:ai's API): the IANA time zone of the buckets' days (default UTC)."
)


class ReportSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    tenantId = serializers.IntegerField(source="tenant_id")
    name = serializers.CharField()
    description = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    groupBy = serializers.ChoiceField(source="group_by", choices=GROUP_BY, help_text=GROUP_BY_HELP)
    filterBy = serializers.ListField(source="filter_by", child=serializers.CharField())
    createdAt = serializers.DateTimeField(source="created_at")
    createdBy = serializers.CharField(source="created_by")
    status = serializers.ChoiceField(choices=ReportStatus.values)
    statusUpdatedAt = serializers.DateTimeField(source="status_updated_at")
    statusMessage = serializers.CharField(source="status_message")
    bucket = serializers.ChoiceField(
        source="shape.bucket", choices=Bucket.values, allow_null=True, help_text=BUCKET_HELP
    )
    timeZone = serializers.CharField(source="time_zone", help_text=TIME_ZONE_HELP)
    costs = serializers.BooleanField(help_text=COSTS_HELP)


class ReportListSerializer(serializers.Serializer):
    reports = ReportSerializer(many=True)


class ReportRequestSerializer(serializers.Serializer):
    """What a client sends to create a report; the rules of spec 4.1 are checked by the one
    create path, services.create_report."""

    name = serializers.CharField(allow_blank=True, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    start = serializers.DateTimeField(help_text="Start of the collection period, UTC, included.")
    end = serializers.DateTimeField(help_text="End of the collection period, UTC, excluded.")
    groupBy = serializers.ChoiceField(
        source="group_by",
        choices=GROUP_BY,
        required=False,
        allow_null=True,
        default=None,
        help_text=GROUP_BY_HELP,
    )
    filterBy = serializers.ListField(
        source="filter_by",
        child=serializers.CharField(),
        required=False,
        default=list,
        max_length=100,
    )
    bucket = serializers.ChoiceField(
        choices=Bucket.values, required=False, allow_null=True, default=None, help_text=BUCKET_HELP
    )
    timeZone = serializers.CharField(
        source="time_zone",
        required=False,
        allow_null=True,
        default=None,
        max_length=64,
        help_text=TIME_ZONE_HELP,
    )
    costs = serializers.BooleanField(required=False, default=False, help_text=COSTS_HELP)


class SearchQuerySerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Free text in name, description or creator.",
    )


class ListQuerySerializer(SearchQuerySerializer):
    sortBy = serializers.ChoiceField(choices=list(FIELDS), required=False)
    sortOrder = serializers.ChoiceField(choices=["asc", "desc"], default="asc")
    offset = serializers.IntegerField(min_value=0, max_value=INT32_MAX, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class AvailabilitySerializer(serializers.Serializer):
    isAvailable = serializers.BooleanField()


class BatchDeleteRequestSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.CharField(allow_blank=True), min_length=1, max_length=500
    )


class BatchDeleteFailureSerializer(serializers.Serializer):
    id = serializers.CharField()
    code = serializers.IntegerField()
    message = serializers.CharField()


class BatchDeleteResponseSerializer(serializers.Serializer):
    accepted = serializers.ListField(child=serializers.CharField())
    failed = BatchDeleteFailureSerializer(many=True)
    totalRequested = serializers.IntegerField()
    totalAccepted = serializers.IntegerField()
    totalFailed = serializers.IntegerField()


class TokenRequestSerializer(serializers.Serializer):
    """Keys are read ignoring case, as the SDK sends `AppId`/`AppSecret` where the API names
    `appID`/`appSecret`."""

    # The fields document the body; to_internal_value reads it by hand, as Run:ai's clients send
    # it and with the answers they have always had. Valid: {"client_id": ..., "secret": ...}.
    grantType = serializers.ChoiceField(choices=["client_credentials", "app_token"])
    clientID = serializers.CharField(required=False)
    clientSecret = serializers.CharField(required=False)
    appID = serializers.CharField(required=False, help_text="Deprecated: app_token grant.")
    appSecret = serializers.CharField(required=False, help_text="Deprecated: app_token grant.")

    def run_validation(self, data=empty) -> dict[str, str]:
        # Here rather than in to_internal_value, which DRF never calls for a body of `null`.
        if not isinstance(data, dict):
            raise _refusal("The body is a JSON object.")
        return super().run_validation(data)

    def to_internal_value(self, data: dict) -> dict[str, str]:
        body = {str(key).lower(): value for key, value in data.items()}
        grant = body.get("granttype")
        if grant == "client_credentials":
            client_id, secret = body.get("clientid"), body.get("clientsecret")
        elif grant == "app_token":
            client_id, secret = body.get("appid"), body.get("appsecret")
        else:
            raise serializers.ValidationError(
                {"grantType": ["use client_credentials (or the deprecated app_token)."]}
            )
        if not (isinstance(client_id, str) and client_id and isinstance(secret, str) and secret):
            raise _refusal("Give the client ID and secret of a service account.")
        if "\x00" in client_id + secret:
            raise _refusal("The client ID and secret cannot hold null characters.")
        return {"client_id": client_id, "secret": secret}


def _refusal(message: str) -> serializers.ValidationError:
    return serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]})


class TokenResponseSerializer(serializers.Serializer):
    accessToken = serializers.CharField()
    expiresIn = serializers.IntegerField(help_text="Token lifetime in seconds")


class ErrorSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    message = serializers.CharField()


# Report schedules: ours, not Run:ai's (issue 16).

EXTENSION = "Extension (not in Run:ai's API): "


class BucketField(serializers.ChoiceField):
    """Rows per bucket, or null for one row per segment (kept as "")."""

    def __init__(self, **kwargs):
        super().__init__(choices=Bucket.values, allow_null=True, help_text=BUCKET_HELP, **kwargs)

    def to_representation(self, value):
        return value or None


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2})?$", "example": "06:00"})
class LocalTimeField(serializers.TimeField):
    """A local time of day, "06:00" (with its seconds when it has some): without a zone, so not
    an OpenAPI `time`, which has one."""

    def to_internal_value(self, value) -> time:
        return super().to_internal_value(value).replace(microsecond=0)

    def to_representation(self, value: time) -> str:
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")


class ReportScheduleSerializer(serializers.Serializer):
    """A report schedule, as the API shows it."""

    id = serializers.UUIDField()
    tenantId = serializers.IntegerField(source="tenant_id")
    name = serializers.CharField()
    description = serializers.CharField()
    groupBy = serializers.ChoiceField(source="group_by", choices=GROUP_BY, help_text=GROUP_BY_HELP)
    filterBy = serializers.ListField(source="filter_by", child=serializers.CharField())
    bucket = BucketField()
    timeZone = serializers.CharField(source="time_zone", help_text=TIME_ZONE_HELP)
    costs = serializers.BooleanField(help_text=COSTS_HELP)
    frequency = serializers.ChoiceField(choices=Frequency.values)
    weekday = serializers.IntegerField(
        allow_null=True, help_text="Weekly: the day each week starts on, 0 (Monday) to 6."
    )
    dayOfMonth = serializers.IntegerField(
        source="day_of_month",
        allow_null=True,
        help_text="Monthly: the day each month starts on, 1 to 31 (past a month's end: its "
        "last day).",
    )
    scheduleTimeZone = serializers.CharField(
        source="schedule_time_zone",
        help_text="The IANA zone whose days the periods are made of, and of runAt.",
    )
    runAt = LocalTimeField(
        source="run_at",
        help_text="The local time, on the day after a period, at which its report is made.",
    )
    nameTemplate = serializers.CharField(
        source="name_template",
        help_text="The names of its reports: {name} is the schedule's, {period} the period's "
        "(such as 2026-11).",
    )
    keepLast = serializers.IntegerField(
        source="keep_last", help_text="How many of the reports it made are kept, the latest."
    )
    catchUpLimit = serializers.IntegerField(
        source="catch_up_limit",
        help_text="After the scheduler was down: how many of the latest missed periods are made.",
    )
    paused = serializers.BooleanField()
    pausedReason = serializers.CharField(source="paused_reason")
    owner = serializers.CharField(
        source="owner_name",
        help_text="Whose permissions its reports are made with: who created the schedule.",
    )
    createdAt = serializers.DateTimeField(source="created_at")
    nextRunAt = serializers.SerializerMethodField(
        help_text="When its next report is to be made; null while paused."
    )

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_nextRunAt(self, schedule) -> str | None:  # noqa: N802 - the API's name
        if schedule.paused:
            return None
        [period] = schedule.upcoming(timezone.now(), 1)
        return serializers.DateTimeField().to_representation(period.due)


class ReportScheduleListSerializer(serializers.Serializer):
    schedules = ReportScheduleSerializer(many=True)


class ReportScheduleRequestSerializer(serializers.Serializer):
    """What a client sends to create a schedule (name required, the rest as the defaults say),
    or to change one (only what is sent). The model checks the rest (services.save_schedule)."""

    name = serializers.CharField(allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    groupBy = serializers.ChoiceField(
        source="group_by", choices=GROUP_BY, required=False, help_text=GROUP_BY_HELP
    )
    filterBy = serializers.ListField(
        source="filter_by", child=serializers.CharField(), required=False, max_length=100
    )
    bucket = BucketField(required=False)
    timeZone = serializers.CharField(
        source="time_zone", required=False, max_length=64, help_text=TIME_ZONE_HELP
    )
    costs = serializers.BooleanField(required=False, help_text=COSTS_HELP)
    frequency = serializers.ChoiceField(choices=Frequency.values, required=False)
    weekday = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=6, help_text="0 (Monday) to 6."
    )
    dayOfMonth = serializers.IntegerField(
        source="day_of_month", required=False, allow_null=True, min_value=1, max_value=31
    )
    scheduleTimeZone = serializers.CharField(
        source="schedule_time_zone", required=False, max_length=64
    )
    runAt = LocalTimeField(
        source="run_at", required=False, help_text="Local, such as 06:00, without a zone."
    )
    nameTemplate = serializers.CharField(source="name_template", required=False)
    keepLast = serializers.IntegerField(
        source="keep_last", required=False, min_value=1, max_value=1000
    )
    catchUpLimit = serializers.IntegerField(
        source="catch_up_limit", required=False, min_value=1, max_value=100
    )

    def validate_bucket(self, value: str | None) -> str:
        return value or ""


class DeliveryTargetSerializer(serializers.Serializer):
    """A schedule's delivery target. A webhook's secret only for those who may change the
    schedule (the context's `may_change`): it signs what the webhook receives."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=DeliveryKind.choices)
    recipients = serializers.ListField(
        child=serializers.CharField(), help_text="E-mail: the addresses; [] for other kinds."
    )
    url = serializers.CharField(help_text='Webhook: where the JSON is POSTed; "" otherwise.')
    prefix = serializers.CharField(
        help_text='Object storage: files go under <prefix>/<year>/<month>/; "" otherwise.'
    )
    enabled = serializers.BooleanField(help_text="Reports made from now on are sent.")
    secret = serializers.CharField(
        required=False,
        help_text="Webhook, shown only to who may change the schedule: the key of the "
        "X-Signature-256 HMAC-SHA256 of each body.",
    )
    createdAt = serializers.DateTimeField(source="created_at")

    def to_representation(self, target: DeliveryTarget) -> dict:
        data = super().to_representation(target)
        if target.kind != DeliveryKind.WEBHOOK or not self.context.get("may_change"):
            del data["secret"]
        return data


class DeliveryTargetListSerializer(serializers.Serializer):
    targets = DeliveryTargetSerializer(many=True)


class DeliveryTargetRequestSerializer(serializers.Serializer):
    """What a client sends to add a target (its kind and the field that kind needs), or to
    change one (only what is sent). The model checks the rest, and empties the fields of the
    other kinds."""

    kind = serializers.ChoiceField(choices=DeliveryKind.choices)
    recipients = serializers.ListField(
        child=serializers.CharField(max_length=254),
        required=False,
        max_length=DELIVERY_MAX_RECIPIENTS,
        help_text="E-mail: the addresses.",
    )
    url = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="Webhook: http or https."
    )
    prefix = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Object storage."
    )
    enabled = serializers.BooleanField(required=False)


class DeliverySerializer(serializers.Serializer):
    """A report sent to one target of its schedule."""

    targetId = serializers.IntegerField(source="target_id")
    kind = serializers.ChoiceField(source="target.kind", choices=DeliveryKind.choices)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    lastError = serializers.CharField(
        source="last_error",
        help_text="Why the last attempt failed: final when Failed, retried when Pending.",
    )
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)


class ScheduleRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    period = serializers.CharField(source="period_label")
    periodStart = serializers.DateTimeField(source="period_start")
    periodEnd = serializers.DateTimeField(source="period_end")
    status = serializers.ChoiceField(choices=RunStatus.values)
    message = serializers.CharField()
    reportId = serializers.UUIDField(
        source="report_id",
        allow_null=True,
        help_text="The report made (null when none was, or once it was deleted).",
    )
    runNow = serializers.BooleanField(source="on_demand", help_text="Made by run-now.")
    createdAt = serializers.DateTimeField(source="created_at")
    deliveries = serializers.SerializerMethodField(
        help_text="Its report sent to each enabled target, once Ready."
    )

    @extend_schema_field(DeliverySerializer(many=True))
    def get_deliveries(self, run) -> list[dict]:
        if run.report is None:
            return []
        return DeliverySerializer(run.report.deliveries.all(), many=True).data


class ScheduleRunListSerializer(serializers.Serializer):
    runs = ScheduleRunSerializer(many=True)


class PageQuerySerializer(serializers.Serializer):
    offset = serializers.IntegerField(min_value=0, max_value=INT32_MAX, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)
