"""Every operation of the served OpenAPI document, fuzzed with schemathesis in process (WSGI):
no request makes a 5xx, and every response conforms to the document (documented status codes
and content types, bodies of the documented shape, errors as {"code": N, "message": "..."})."""

import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import schemathesis
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client, override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reports.api import tokens
from reports.models import DeliveryTarget, Report, ReportSchedule, ReportStatus
from reports_site.tenancy.models import User
from reports_site.wsgi import application
from tests.api.conftest import service_account
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/schema/"
PATHS = [
    "/api/v1/token",
    "/api/v1/org-unit/reports",
    "/api/v1/org-unit/reports/count",
    "/api/v1/org-unit/reports/availability",
    "/api/v1/org-unit/reports/{reportId}",
    "/api/v1/org-unit/reports/{reportId}/file",
    "/api/v1/org-unit/reports/batch-delete",
    "/api/v1/org-unit/report-schedules",
    "/api/v1/org-unit/report-schedules/{scheduleId}",
    "/api/v1/org-unit/report-schedules/{scheduleId}/pause",
    "/api/v1/org-unit/report-schedules/{scheduleId}/resume",
    "/api/v1/org-unit/report-schedules/{scheduleId}/run-now",
    "/api/v1/org-unit/report-schedules/{scheduleId}/runs",
    "/api/v1/org-unit/report-schedules/{scheduleId}/targets",
    "/api/v1/org-unit/report-schedules/{scheduleId}/targets/{targetId}",
]
# Random cases per operation, besides schemathesis' boundary ("coverage") cases.
MAX_EXAMPLES = 50

# Reports the requests may name, besides the ids schemathesis makes up: robot's own (each
# status), a colleague's (visible to robot, not robot's to delete), another tenant's (not found).
ROBOTS_READY = uuid.UUID("00000000-0000-4000-8000-000000000001")
ROBOTS_PENDING = uuid.UUID("00000000-0000-4000-8000-000000000002")
ROBOTS_FAILED = uuid.UUID("00000000-0000-4000-8000-000000000003")
COLLEAGUES = uuid.UUID("00000000-0000-4000-8000-000000000004")
FOREIGN = uuid.UUID("00000000-0000-4000-8000-000000000005")
# Schedules likewise: robot's (active, and paused), a colleague's, another tenant's.
ROBOTS_SCHEDULE = uuid.UUID("00000000-0000-4000-8000-000000000011")
ROBOTS_PAUSED_SCHEDULE = uuid.UUID("00000000-0000-4000-8000-000000000012")
COLLEAGUES_SCHEDULE = uuid.UUID("00000000-0000-4000-8000-000000000013")
FOREIGN_SCHEDULE = uuid.UUID("00000000-0000-4000-8000-000000000014")
KNOWN_IDS = [
    str(pk)
    for pk in (
        ROBOTS_READY,
        ROBOTS_PENDING,
        ROBOTS_FAILED,
        COLLEAGUES,
        FOREIGN,
        ROBOTS_SCHEDULE,
        ROBOTS_PAUSED_SCHEDULE,
        COLLEAGUES_SCHEDULE,
        FOREIGN_SCHEDULE,
    )
]
# A webhook target of robot's schedule, of the colleague's and of the other tenant's, each with
# its schedule's id; far above the ids the tests' other targets get.
KNOWN_TARGETS = [
    (ROBOTS_SCHEDULE, 900_001),
    (COLLEAGUES_SCHEDULE, 900_002),
    (FOREIGN_SCHEDULE, 900_003),
]
MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
PERIOD = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}  # one that is accepted
SCHEDULE = {"name": "Fuzzed", "frequency": "weekly", "weekday": 2, "nameTemplate": "{period}"}
TARGETS = [
    {"kind": "webhook", "url": "https://hooks.example/fuzz"},
    {"kind": "email", "recipients": ["ops@acme.example"]},
    {"kind": "storage", "prefix": "gpu/fuzz"},
]

# Conditions in the filterBy grammar (reports/api/filtering.py), so that values reach the parser
# and the database rather than being turned away as malformed.
FILTER_VALUES = st.one_of(
    st.sampled_from(["Ready", "Pending", "Processing", "Failed", "March", "sa:robot", " "]),
    st.text(max_size=20),
    st.dates().map(date.isoformat),
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))]
        )
    ).map(datetime.isoformat),
)
CONDITIONS = st.builds(
    "{}{}{}".format,
    st.sampled_from(["name", "createdAt", "createdBy", "status"]),
    st.sampled_from(["==", "!=", "<=", ">=", "=@", "!@", "=^", "=$"]),
    FILTER_VALUES,
)

# Loaded once, at collection (the document needs no database), from the app itself. Without the
# literals schemathesis would gather from the app's modules: their order varies from process to
# process, and runs must be reproducible.
with override_settings(ALLOWED_HOSTS=["localhost"]):  # the Host schemathesis sends
    schema = schemathesis.openapi.from_wsgi(
        SCHEMA_URL,
        application,
        config=schemathesis.Config.from_dict({"analysis": {"constants": {"enabled": False}}}),
    )


# The hooks below mix, into what schemathesis generates, values that reach further into the
# app: ids of reports that exist, a period the service accepts, filterBy conditions in its
# grammar, and NUL characters (which PostgreSQL refuses in text).


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    variants = [
        st.just(path_parameters),
        st.sampled_from(KNOWN_IDS).map(lambda pk: dict.fromkeys(path_parameters, pk)),
    ]
    if "targetId" in path_parameters:
        variants.append(
            st.sampled_from(KNOWN_TARGETS).map(
                lambda ids: {"scheduleId": str(ids[0]), "targetId": ids[1]}
            )
        )
    return st.one_of(variants)


@schema.hook
def flatmap_query(context, query):
    if not isinstance(query, dict):
        return st.just(query)
    variants = [st.just(query), _with_nuls(query)]
    if context.operation.get_parameter("filterBy", "query") is not None:
        conditions = st.lists(CONDITIONS, min_size=1, max_size=3)
        variants.append(conditions.map(lambda conditions: {**query, "filterBy": conditions}))
    return st.one_of(variants)


@schema.hook
def flatmap_body(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    variants = [st.just(body), _with_nuls(body)]
    if isinstance(body.get("ids"), list):
        known = st.lists(st.sampled_from(KNOWN_IDS), min_size=1, max_size=3)
        variants.append(known.map(lambda known: {**body, "ids": [*body["ids"], *known]}))
    if "start" in body and "end" in body:
        variants.append(st.just({**body, **PERIOD}))
    if "frequency" in body or "nameTemplate" in body:
        variants.append(st.just({**body, **SCHEDULE}))
    if "kind" in body:
        variants.append(st.sampled_from(TARGETS).map(lambda target: {**body, **target}))
    return st.one_of(variants)


def _with_nuls(fields: dict) -> st.SearchStrategy:
    """The fields with a NUL character added to some of them (strings, or lists of them)."""
    names = sorted(name for name, value in fields.items() if isinstance(value, str | list))
    if not names:
        return st.just(fields)

    def add_nuls(chosen):
        return {
            name: (value + "\x00" if isinstance(value, str) else [*value, "\x00"])
            if name in chosen
            else value
            for name, value in fields.items()
        }

    return st.sets(st.sampled_from(names), min_size=1).map(add_nuls)


def _report(pk, tenant, name, status, creator) -> Report:
    creator_field = "created_by_user" if isinstance(creator, User) else "created_by_service_account"
    report = Report.objects.create(
        pk=pk,
        tenant=tenant,
        name=name,
        start=MARCH[0],
        end=MARCH[1],
        created_by=str(creator),
        status=status,
        **{creator_field: creator},
    )
    if status == ReportStatus.READY:
        report.file.save("ignored.csv", ContentFile(b"project,gpu_hours\nvision,1.0\n"))
    return report


def _schedule(pk, name, owner, **fields) -> ReportSchedule:
    schedule = ReportSchedule(
        pk=pk, tenant_id=owner.tenant_id, name=name, frequency="daily", **fields
    )
    schedule.set_owner(owner)
    schedule.save()
    return schedule


@pytest.fixture
def robot_token(settings, tenant, org, other_tenant) -> str:
    """A token of robot (Viewer of acme), and reports of each kind for the requests to find."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    robot = service_account(tenant, "robot")
    carol = UserFactory(email="carol@acme.example", tenant=tenant)
    intruder = service_account(other_tenant, "intruder", role="System administrator")
    _report(ROBOTS_READY, tenant, "March", ReportStatus.READY, robot)
    _report(ROBOTS_PENDING, tenant, "Queued", ReportStatus.PENDING, robot)
    _report(ROBOTS_FAILED, tenant, "Broken", ReportStatus.FAILED, robot)
    _report(COLLEAGUES, tenant, "Carol's", ReportStatus.READY, carol)
    _report(FOREIGN, other_tenant, "March", ReportStatus.READY, intruder)
    _schedule(ROBOTS_SCHEDULE, "Daily", robot)
    _schedule(ROBOTS_PAUSED_SCHEDULE, "Paused", robot, paused=True, paused_reason="Resting.")
    _schedule(COLLEAGUES_SCHEDULE, "Carol's", carol)
    _schedule(FOREIGN_SCHEDULE, "Daily", intruder)
    for schedule_id, target_id in KNOWN_TARGETS:
        DeliveryTarget.objects.create(
            pk=target_id, schedule_id=schedule_id, kind="webhook", url="https://hooks.example/x"
        )
    # Django's WSGI handler closes the connection after each request, which would end the test's
    # transaction: disconnected here as Django's test client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield tokens.issue(robot)[0]
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def error_body(ctx, response, case):
    """Every client error is JSON, {"code": N, "message": "..."} with N the status (spec 5)."""
    if not 400 <= response.status_code < 500 or case.method.upper() == "HEAD":
        return  # server errors are not_a_server_error's; HEAD has no body
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"error as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict) and body.keys() == {"code", "message"}, body
    assert body["code"] == response.status_code, body
    assert isinstance(body["message"], str) and body["message"], body


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_body,
]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_fails_or_strays_from_the_document(case, robot_token):
    headers = {"Authorization": f"Bearer {robot_token}"}
    # Every case starts from the same data: what it creates or deletes (in the database or the
    # failed-token count in the cache) is undone.
    cache.clear()
    with transaction.atomic():
        response = case.call(headers=headers)
        transaction.set_rollback(True)
    case.validate_response(response, checks=CHECKS, headers=headers)


def test_the_document_lists_every_path(client):
    response = client.get(SCHEMA_URL, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert set(PATHS) <= set(document["paths"]), sorted(document["paths"])


def test_the_docs_page_loads_only_local_assets():
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html, re.IGNORECASE)
    urls = [url for tag in tags for url in re.findall(r"""(?:src|href)=["']?([^"'\s>]+)""", tag)]
    assert any("swagger-ui" in url for url in urls), html
    assert [url for url in urls if re.match(r"(?:[a-z]+:)?//", url, re.IGNORECASE)] == []
    for url in urls:
        assert client.get(url).status_code == 200, url
