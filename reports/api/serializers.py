"""The API's bodies and query parameters, with Run:ai's field names."""

from rest_framework import serializers

from consumption.aggregation import Segment
from reports.models import ReportStatus

SORT_FIELDS = {
    "name": "name",
    "createdAt": "created_at",
    "createdBy": "created_by",
    "status": "status",
}
INT32_MAX = 2**31 - 1


class ReportSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    tenantId = serializers.IntegerField(source="tenant_id")
    name = serializers.CharField()
    description = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    groupBy = serializers.ChoiceField(source="group_by", choices=Segment.CHOICES)
    filterBy = serializers.ListField(source="filter_by", child=serializers.CharField())
    createdAt = serializers.DateTimeField(source="created_at")
    createdBy = serializers.CharField(source="created_by")
    status = serializers.ChoiceField(choices=ReportStatus.values)
    statusUpdatedAt = serializers.DateTimeField(source="status_updated_at")
    statusMessage = serializers.CharField(source="status_message")


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
        choices=Segment.CHOICES, required=False, allow_null=True, default=None
    )
    filterBy = serializers.ListField(
        child=serializers.CharField(), required=False, default=list, max_length=100
    )


class SearchQuerySerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Free text in name, description or creator.",
    )


class ListQuerySerializer(SearchQuerySerializer):
    sortBy = serializers.ChoiceField(choices=list(SORT_FIELDS), required=False)
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
    """Documented shape only: the view reads the keys case-insensitively, as the SDK sends
    `AppId`/`AppSecret` where the API names `appID`/`appSecret`."""

    grantType = serializers.ChoiceField(choices=["client_credentials", "app_token"])
    clientID = serializers.CharField(required=False)
    clientSecret = serializers.CharField(required=False)
    appID = serializers.CharField(required=False, help_text="Deprecated: app_token grant.")
    appSecret = serializers.CharField(required=False, help_text="Deprecated: app_token grant.")


class TokenResponseSerializer(serializers.Serializer):
    accessToken = serializers.CharField()
    expiresIn = serializers.IntegerField(help_text="Token lifetime in seconds")


class ErrorSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    message = serializers.CharField()
