"""Deliveries of the reports of report schedules (reports.delivery), to real servers: an SMTP
server receiving the e-mail and its attachment, an HTTP server receiving the signed webhook (its
signature checked here with hmac itself), and the S3-compatible server receiving the object under
its date-partitioned key. Retries are followed with the clock moved; every expected value is
written out by hand or computed here."""

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from reports import delivery as delivery_module
from reports.delivery import ABANDONED_MESSAGE, send
from reports.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    DeliveryTarget,
    Report,
    ReportSchedule,
)
from reports.scheduling import run_now
from reports.tasks import build_report, deliver_report, sweep_deliveries
from tests.reports.conftest import ready_report
from tests.servers import SMTPServer, WebhookServer

pytestmark = pytest.mark.usefixtures("no_queue")

# Run now on this day makes the report of March 2026 (the usage fixture's month).
APRIL_2ND = datetime(2026, 4, 2, 12, tzinfo=UTC)
SITE_URL = "https://reports.example.com"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE_URL


@pytest.fixture
def queued(monkeypatch) -> list:
    """The reports whose deliveries were queued; the tests send them by calling the task."""
    queued = []
    monkeypatch.setattr("reports.tasks.queue_deliveries", queued.append)
    return queued


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server, and Django's SMTP backend sending to it."""
    with SMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.DEFAULT_FROM_EMAIL = "GPU reports <reports@acme.example>"
        yield server


@pytest.fixture
def webhook_server():
    with WebhookServer() as server:
        yield server


def schedule_of(owner, *targets: dict, time_zone: str = "UTC") -> ReportSchedule:
    """A monthly schedule "GPU usage" of the owner, in the zone, with these targets."""
    schedule = ReportSchedule(
        tenant_id=owner.tenant_id,
        name="GPU usage",
        frequency="monthly",
        day_of_month=1,
        schedule_time_zone=time_zone,
    )
    schedule.set_owner(owner)
    schedule.full_clean()
    schedule.save()
    for fields in targets:
        target = DeliveryTarget(schedule=schedule, **fields)
        target.full_clean()
        target.save()
    return schedule


def built_report(schedule: ReportSchedule) -> Report:
    """The schedule's report of March 2026, made by Run now and built (Ready)."""
    run = run_now(schedule, now=APRIL_2ND)
    assert build_report(str(run.report_id)) == "ready"
    return Report.objects.get(pk=run.report_id)


def email_to(*addresses: str) -> dict:
    return {"kind": DeliveryKind.EMAIL, "recipients": list(addresses)}


def webhook_to(url: str) -> dict:
    return {"kind": DeliveryKind.WEBHOOK, "url": url}


def stored_bytes(report: Report) -> bytes:
    with report.file.open("rb") as file:
        return file.read()


@pytest.mark.django_db
class TestCreation:
    def test_a_ready_report_has_a_pending_delivery_to_each_enabled_target_queued_once(
        self, viewer, usage, queued, django_capture_on_commit_callbacks
    ):
        schedule = schedule_of(
            viewer, email_to("ops@acme.example"), webhook_to("https://hooks.acme.example/r")
        )
        DeliveryTarget.objects.create(
            schedule=schedule, kind=DeliveryKind.STORAGE, prefix="off", enabled=False
        )
        run = run_now(schedule, now=APRIL_2ND)
        assert not Delivery.objects.exists()  # not before it is Ready
        with django_capture_on_commit_callbacks(execute=True):
            build_report(str(run.report_id))

        deliveries = Delivery.objects.filter(report_id=run.report_id).order_by("target__kind")
        assert [(d.target.kind, d.status, d.attempts) for d in deliveries] == [
            ("email", "Pending", 0),
            ("webhook", "Pending", 0),
        ]
        assert queued == [str(run.report_id)]

    def test_a_report_of_no_schedule_has_none_and_queues_nothing(
        self, viewer, usage, queued, django_capture_on_commit_callbacks
    ):
        schedule_of(viewer, email_to("ops@acme.example"))
        with django_capture_on_commit_callbacks(execute=True):
            ready_report(viewer, "By hand")
        assert not Delivery.objects.exists()
        assert queued == []


@pytest.mark.django_db
class TestEmail:
    def test_the_message_arrives_with_the_csv_attached(self, viewer, usage, smtp_server):
        schedule = schedule_of(viewer, email_to("ops@acme.example", "finance@acme.example"))
        report = built_report(schedule)

        assert deliver_report(str(report.pk)) == "0 pending, 1 delivered, 0 failed"

        [message] = smtp_server.messages
        assert smtp_server.envelopes == [
            ("reports@acme.example", ["ops@acme.example", "finance@acme.example"])
        ]
        assert message["Subject"] == "GPU usage 2026-03"
        assert message["To"] == "ops@acme.example, finance@acme.example"
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == "gpu-usage-2026-03.csv"
        assert attachment.get_content_type() == "text/csv"
        # Its charset said once, as it came (the parser reads a repeated one as one).
        assert b'Content-Type: text/csv; charset="utf-8"\r\n' in smtp_server.received[0]
        assert attachment.get_content().encode() == stored_bytes(report)
        body = message.get_body(("plain",)).get_content()
        assert "is attached" in body
        assert f"{SITE_URL}/analytics/reports/{report.pk}/download/" in body
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("Delivered", 1, "")
        assert delivery.delivered_at is not None

    def test_a_file_larger_than_the_limit_is_linked_not_attached(
        self, viewer, usage, smtp_server, settings
    ):
        report = built_report(schedule_of(viewer, email_to("ops@acme.example")))
        settings.DELIVERY_ATTACHMENT_MAX_BYTES = len(stored_bytes(report)) - 1

        deliver_report(str(report.pk))

        [message] = smtp_server.messages
        assert list(message.iter_attachments()) == []
        body = message.get_body(("plain",)).get_content()
        assert "too large to attach" in body
        assert f"download it from {SITE_URL}/analytics/reports/{report.pk}/download/" in body

    def test_a_file_of_exactly_the_limit_is_attached(self, viewer, usage, smtp_server, settings):
        report = built_report(schedule_of(viewer, email_to("ops@acme.example")))
        settings.DELIVERY_ATTACHMENT_MAX_BYTES = len(stored_bytes(report))
        deliver_report(str(report.pk))
        [message] = smtp_server.messages
        assert len(list(message.iter_attachments())) == 1

    def test_a_mail_server_that_does_not_answer_is_an_error_to_retry(self, viewer, usage, settings):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        with SMTPServer() as stopped:
            settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", stopped.port
        report = built_report(schedule_of(viewer, email_to("ops@acme.example")))

        assert deliver_report(str(report.pk)) == "1 pending, 0 delivered, 0 failed"
        delivery = Delivery.objects.get()
        assert delivery.last_error.startswith("The mail server or the storage refused it:")
        assert "Connection refused" in delivery.last_error


@pytest.mark.django_db
class TestWebhook:
    def test_the_json_arrives_signed_with_the_targets_secret(self, viewer, usage, webhook_server):
        schedule = schedule_of(viewer, webhook_to(webhook_server.url))
        report = built_report(schedule)
        target = schedule.targets.get()

        deliver_report(str(report.pk))

        [request] = webhook_server.requests
        assert request.path == "/hooks/reports"
        assert request.headers["Content-Type"] == "application/json"
        expected = hmac.new(target.secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Signature-256"] == f"sha256={expected}"
        assert request.headers["X-Delivery-Id"] == str(Delivery.objects.get().pk)
        payload = json.loads(request.body)
        assert payload == {
            "id": str(report.pk),
            "tenantId": viewer.tenant_id,
            "name": "GPU usage 2026-03",
            "description": "",
            "start": "2026-03-01T00:00:00Z",
            "end": "2026-04-01T00:00:00Z",
            "groupBy": "Project",
            "filterBy": [],
            "createdAt": payload["createdAt"],
            "createdBy": "alice@acme.example",
            "status": "Ready",
            "statusUpdatedAt": payload["statusUpdatedAt"],
            "statusMessage": report.status_message,
            "bucket": None,
            "timeZone": "UTC",
            "costs": False,
            "downloadUrl": f"{SITE_URL}/analytics/reports/{report.pk}/download/",
            "scheduleName": "GPU usage",
        }
        assert Delivery.objects.get().status == DeliveryStatus.DELIVERED

    def test_a_failing_webhook_is_retried_with_backoff_then_fails_with_its_error(
        self, viewer, usage, webhook_server, settings, time_machine
    ):
        settings.DELIVERY_MAX_ATTEMPTS = 4
        webhook_server.status = 500
        start = datetime(2026, 12, 1, 9, tzinfo=UTC)
        time_machine.move_to(start, tick=False)
        schedule = schedule_of(viewer, webhook_to(webhook_server.url))
        report = built_report(schedule)

        def at(minutes: float) -> str:
            time_machine.move_to(start + timedelta(minutes=minutes), tick=False)
            return sweep_deliveries()

        assert deliver_report(str(report.pk)) == "1 pending, 0 delivered, 0 failed"
        delivery = Delivery.objects.get()
        assert (delivery.attempts, delivery.next_attempt_at) == (1, start + timedelta(minutes=1))
        assert delivery.last_error == "The webhook answered HTTP 500 Internal Server Error."
        # Tried again 1, 2 and 4 minutes after each failure: at 1, 3 and 7 minutes.
        assert at(0.99) == "0 pending, 0 delivered, 0 failed, 0 abandoned"
        assert at(1) == "1 pending, 0 delivered, 0 failed, 0 abandoned"
        assert at(2.99) == "0 pending, 0 delivered, 0 failed, 0 abandoned"
        assert at(3) == "1 pending, 0 delivered, 0 failed, 0 abandoned"
        assert at(6.99) == "0 pending, 0 delivered, 0 failed, 0 abandoned"
        assert at(7) == "0 pending, 0 delivered, 1 failed, 0 abandoned"
        assert at(60) == "0 pending, 0 delivered, 0 failed, 0 abandoned"

        assert len(webhook_server.requests) == 4
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.delivered_at) == ("Failed", 4, None)
        assert delivery.last_error == "The webhook answered HTTP 500 Internal Server Error."
        # What the schedule's history can show: its run's failed deliveries, with their error.
        run = schedule.runs.get()
        assert list(Delivery.objects.of_run(run).failed()) == [delivery]
        assert list(report.deliveries.failed()) == [delivery]

    def test_a_webhook_that_recovers_is_delivered_on_the_next_attempt(
        self, viewer, usage, webhook_server, time_machine
    ):
        start = datetime(2026, 12, 1, 9, tzinfo=UTC)
        time_machine.move_to(start, tick=False)
        webhook_server.status = 503
        report = built_report(schedule_of(viewer, webhook_to(webhook_server.url)))
        deliver_report(str(report.pk))
        webhook_server.status = 204
        time_machine.move_to(start + timedelta(minutes=1), tick=False)
        assert sweep_deliveries() == "0 pending, 1 delivered, 0 failed, 0 abandoned"
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("Delivered", 2, "")
        assert len(webhook_server.requests) == 2

    def test_an_unreachable_webhook_says_so(self, viewer, usage):
        with WebhookServer() as closed:
            url = closed.url
        report = built_report(schedule_of(viewer, webhook_to(url)))
        deliver_report(str(report.pk))
        assert Delivery.objects.get().last_error.startswith("The webhook could not be reached:")

    def test_without_site_url_it_fails_saying_what_to_set(
        self, viewer, usage, webhook_server, settings
    ):
        settings.SITE_URL = ""
        settings.DELIVERY_MAX_ATTEMPTS = 1
        report = built_report(schedule_of(viewer, webhook_to(webhook_server.url)))
        assert deliver_report(str(report.pk)) == "0 pending, 0 delivered, 1 failed"
        assert webhook_server.requests == []
        assert "set SITE_URL" in Delivery.objects.get().last_error


@pytest.mark.django_db
class TestStorage:
    def test_the_file_is_copied_under_the_month_of_the_period_in_the_schedules_zone(
        self, viewer, usage, s3_server, s3_bucket
    ):
        # March in Paris starts on 28 February at 23:00 UTC: the folder is still 2026/03.
        schedule = schedule_of(
            viewer, {"kind": "storage", "prefix": "gpu/monthly"}, time_zone="Europe/Paris"
        )
        report = built_report(schedule)
        assert report.start == datetime(2026, 2, 28, 23, tzinfo=UTC)

        assert deliver_report(str(report.pk)) == "0 pending, 1 delivered, 0 failed"

        key = "site/gpu/monthly/2026/03/gpu-usage-2026-03.csv"
        assert sorted(s3_server.keys(s3_bucket)) == sorted([f"site/reports/{report.pk}.csv", key])
        copied = s3_server.client().get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        assert copied == stored_bytes(report)

    def test_another_object_of_that_name_is_left_alone(self, viewer, usage, s3_server, s3_bucket):
        taken = "site/gpu/2026/03/gpu-usage-2026-03.csv"
        s3_server.client().put_object(Bucket=s3_bucket, Key=taken, Body=b"someone else's")
        report = built_report(schedule_of(viewer, {"kind": "storage", "prefix": "gpu"}))

        deliver_report(str(report.pk))

        ours = f"site/gpu/2026/03/gpu-usage-2026-03-{report.pk}.csv"
        assert sorted(s3_server.keys(s3_bucket)) == sorted(
            [f"site/reports/{report.pk}.csv", taken, ours]
        )
        client = s3_server.client()
        assert client.get_object(Bucket=s3_bucket, Key=taken)["Body"].read() == b"someone else's"
        assert client.get_object(Bucket=s3_bucket, Key=ours)["Body"].read() == stored_bytes(report)

    def test_local_files_get_the_same_key(self, viewer, usage, media):
        report = built_report(schedule_of(viewer, {"kind": "storage", "prefix": "gpu"}))
        deliver_report(str(report.pk))
        copied = media / "gpu" / "2026" / "03" / "gpu-usage-2026-03.csv"
        assert copied.read_bytes() == stored_bytes(report)


@pytest.mark.django_db
class TestOnce:
    def test_sending_again_sends_nothing(self, viewer, usage, webhook_server):
        report = built_report(schedule_of(viewer, webhook_to(webhook_server.url)))
        assert deliver_report(str(report.pk)) == "0 pending, 1 delivered, 0 failed"
        assert deliver_report(str(report.pk)) == "0 pending, 0 delivered, 0 failed"
        assert sweep_deliveries() == "0 pending, 0 delivered, 0 failed, 0 abandoned"
        assert len(webhook_server.requests) == 1

    def test_a_claimed_delivery_waits_for_its_claim_to_expire(
        self, viewer, usage, webhook_server, time_machine, settings
    ):
        """A worker that died holding a delivery: the sweeper leaves it until the claim (a
        task's timeout) expires, then sends it."""
        start = datetime(2026, 12, 1, 9, tzinfo=UTC)
        time_machine.move_to(start, tick=False)
        built_report(schedule_of(viewer, webhook_to(webhook_server.url)))
        held_until = start + timedelta(seconds=settings.Q_CLUSTER["timeout"])
        assert Delivery.objects.claim(held_until) == 1  # and then the worker died

        assert sweep_deliveries() == "0 pending, 0 delivered, 0 failed, 0 abandoned"
        time_machine.move_to(held_until, tick=False)
        assert sweep_deliveries() == "0 pending, 1 delivered, 0 failed, 0 abandoned"
        assert len(webhook_server.requests) == 1
        assert Delivery.objects.get().attempts == 2

    def test_one_whose_worker_died_on_its_last_attempt_ends_failed(
        self, viewer, usage, webhook_server, time_machine, settings
    ):
        settings.DELIVERY_MAX_ATTEMPTS = 1
        start = datetime(2026, 12, 1, 9, tzinfo=UTC)
        time_machine.move_to(start, tick=False)
        report = built_report(schedule_of(viewer, webhook_to(webhook_server.url)))
        Delivery.objects.claim(start + timedelta(minutes=10))
        time_machine.move_to(start + timedelta(minutes=10), tick=False)

        assert sweep_deliveries() == "0 pending, 0 delivered, 0 failed, 1 abandoned"
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.last_error) == ("Failed", ABANDONED_MESSAGE)
        assert webhook_server.requests == []
        assert list(report.deliveries.failed()) == [delivery]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_racing_for_one_delivery_send_it_once(
    viewer, usage, webhook_server, monkeypatch
):
    report = built_report(schedule_of(viewer, webhook_to(webhook_server.url)))
    delivery_id = Delivery.objects.get(report=report).pk
    # Both workers have found it due before either claims it.
    barrier = threading.Barrier(2, timeout=10)
    claim = delivery_module.DeliveryQuerySet.claim

    def claim_together(self, until):
        barrier.wait()
        return claim(self, until)

    monkeypatch.setattr(delivery_module.DeliveryQuerySet, "claim", claim_together)
    outcomes = []

    def worker():
        try:
            outcomes.append(send(delivery_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes, key=str) == ["Delivered", None]
    assert len(webhook_server.requests) == 1
    assert Delivery.objects.get().attempts == 1


@pytest.mark.django_db
class TestTargets:
    def make(self, viewer, **fields) -> DeliveryTarget:
        target = DeliveryTarget(schedule=schedule_of(viewer), **fields)
        target.full_clean()
        return target

    def test_each_kind_keeps_only_its_own_field(self, viewer):
        target = self.make(
            viewer, kind="webhook", url="https://h.example/x", recipients=["a@b.example"]
        )
        assert (target.url, target.recipients, target.prefix) == ("https://h.example/x", [], "")

    @pytest.mark.parametrize(
        "fields, field, message",
        [
            ({"kind": "email"}, "recipients", "Give at least one e-mail address."),
            (
                {"kind": "email", "recipients": ["ops@acme.example", "not an address"]},
                "recipients",
                "Not e-mail addresses: 'not an address'.",
            ),
            ({"kind": "webhook"}, "url", "Give the URL the webhook is POSTed to."),
            ({"kind": "webhook", "url": "ftp://h.example/x"}, "url", "Enter a valid URL."),
            ({"kind": "storage"}, "prefix", "Give the key prefix the files go under."),
            (
                {"kind": "storage", "prefix": "reports/mine"},
                "prefix",
                "Choose another prefix: reports/ holds the report files themselves.",
            ),
            (
                {"kind": "storage", "prefix": "a/../b"},
                "prefix",
                "Use folder names of letters, digits, '.', '_' and '-' separated by single '/', "
                "such as gpu-reports/monthly.",
            ),
            ({"kind": "storage", "prefix": "/abs"}, "prefix", None),
            ({"kind": "storage", "prefix": "a//b"}, "prefix", None),
            ({"kind": "storage", "prefix": "a b"}, "prefix", None),
        ],
    )
    def test_bad_fields_are_refused_with_a_message(self, viewer, fields, field, message):
        with pytest.raises(ValidationError) as error:
            self.make(viewer, **fields)
        assert field in error.value.message_dict
        if message is not None:
            assert error.value.message_dict[field] == [message]

    def test_each_webhook_target_has_a_secret_of_its_own_never_in_its_text(self, viewer):
        first = self.make(viewer, kind="webhook", url="https://h.example/x")
        second = DeliveryTarget(kind="webhook", url="https://h.example/x")
        assert len(first.secret) == 64 and first.secret != second.secret
        assert first.secret not in str(first) and first.secret not in repr(first)
        first.save()
        old = first.secret
        first.rotate_secret()
        first.refresh_from_db()
        assert first.secret != old
