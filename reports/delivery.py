"""Sending the reports of report schedules to their targets once Ready (issue 16): by e-mail, to a
webhook, or into the report files' storage.

The deliveries of a report are created in the transaction that marks it Ready (tasks.build_report),
so that they exist exactly when the report is Ready, and a task queued once that commits sends
them. Each is claimed by a conditional UPDATE before it is sent, so that two workers never send
one at the same time, and held for as long as a task may run; a worker that dies holding one
leaves it to the sweeper (tasks.sweep_deliveries) once its claim expires. A worker killed after
the transport took a delivery and before it was recorded sends it again: webhook receivers get
the delivery's id in X-Delivery-Id to recognise a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.core.serializers.json import DjangoJSONEncoder
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone

from .api.serializers import ReportSerializer
from .downloads import download_name
from .models import (
    Delivery,
    DeliveryKind,
    DeliveryQuerySet,
    DeliveryStatus,
    DeliveryTarget,
    Report,
    ReportSchedule,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature-256"
ABANDONED_MESSAGE = "The worker sending it stopped before it finished, on the last attempt."
UNEXPECTED_MESSAGE = "Sending failed unexpectedly ({kind}); the worker's log has the details."


class DeliveryError(Exception):
    """Why a delivery could not be sent, in words for the schedule's owner."""


def create_deliveries(report_id) -> int:
    """A Pending delivery of the report to each enabled target of the schedule that made it
    (none for a report that no schedule made); how many were created."""
    targets = DeliveryTarget.objects.filter(schedule__runs__report_id=report_id, enabled=True)
    created = Delivery.objects.bulk_create(
        [Delivery(report_id=report_id, target=target) for target in targets.distinct()],
        ignore_conflicts=True,  # created already: a delivery is never made twice
    )
    return len(created)


def queue_deliveries(report_id) -> None:
    from django_q.tasks import async_task

    async_task("reports.tasks.deliver_report", str(report_id), task_name=f"deliveries {report_id}")


def send_due(deliveries: DeliveryQuerySet | None = None) -> Counter:
    """Send each of these deliveries (all by default) that is due, as far as this worker can
    claim it; how many ended in each status."""
    deliveries = Delivery.objects.all() if deliveries is None else deliveries
    outcomes = Counter()
    for delivery_id in deliveries.due().values_list("pk", flat=True):
        status = send(delivery_id)
        if status is not None:
            outcomes[status] += 1
    return outcomes


def fail_abandoned() -> int:
    """Mark Failed the deliveries whose worker died during their last attempt (their claim has
    expired and no attempt is left)."""
    return (
        Delivery.objects.due()
        .filter(attempts__gte=settings.DELIVERY_MAX_ATTEMPTS)
        .fail(ABANDONED_MESSAGE)
    )


def send(delivery_id: int) -> str | None:
    """Claim the delivery and make one attempt: Delivered, or Pending until its backoff ends,
    or Failed after the last attempt, with the error; None when it was not due or another
    worker has it."""
    claimed_until = timezone.now() + timedelta(seconds=settings.Q_CLUSTER["timeout"])
    if not Delivery.objects.filter(
        pk=delivery_id, attempts__lt=settings.DELIVERY_MAX_ATTEMPTS
    ).claim(claimed_until):
        return None
    delivery = Delivery.objects.select_related("report", "target__schedule").get(pk=delivery_id)
    # Ours while it is Pending with our attempt: a worker that outlived its claim changes nothing.
    held = Delivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    )
    try:
        SENDERS[delivery.target.kind](delivery)
    except Exception as error:
        message = _described(error, delivery)
        if delivery.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
            held.fail(message)
            return DeliveryStatus.FAILED
        held.retry_at(timezone.now() + backoff(delivery.attempts), message)
        return DeliveryStatus.PENDING
    held.deliver()
    return DeliveryStatus.DELIVERED


def backoff(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt a delivery is tried again: 1, 2, 4...
    minutes."""
    return timedelta(minutes=2 ** (attempts - 1))


def _described(error: Exception, delivery: Delivery) -> str:
    """The error in words for the owner; an unexpected one is logged whole for operators."""
    if isinstance(error, DeliveryError):
        message = str(error)
    elif isinstance(error, requests.RequestException):
        message = f"The webhook could not be reached: {error}"
    elif isinstance(error, smtplib.SMTPException | OSError):
        message = f"The mail server or the storage refused it: {error}"
    else:
        log.exception("Delivery %s failed unexpectedly", delivery.pk)
        return UNEXPECTED_MESSAGE.format(kind=type(error).__name__)
    log.warning("Delivery %s, attempt %s: %s", delivery.pk, delivery.attempts, message)
    return message


# The senders: each sends the report to its target, or raises.


def send_email(delivery: Delivery) -> None:
    """The report's CSV attached, when it is at most DELIVERY_ATTACHMENT_MAX_BYTES; a link to
    its download otherwise."""
    report, target = delivery.report, delivery.target
    size = report.file_size if report.file_size is not None else report.file.size
    attached = size <= settings.DELIVERY_ATTACHMENT_MAX_BYTES
    message = EmailMessage(
        subject=report.name,
        body=email_body(report, target.schedule, size, attached),
        to=target.recipients,
    )
    if attached:
        with report.file.open("rb") as file:
            # The type without its charset, which Django adds to text: utf-8.
            message.attach(download_name(report), file.read(), "text/csv")
    message.send()


def email_body(report: Report, schedule: ReportSchedule, size: int, attached: bool) -> str:
    lines = [
        f"The report {report.name!r} of the schedule {schedule.name!r} is ready: "
        f"{report.row_count or 0} rows over {report.period}.",
        "",
    ]
    if attached:
        lines.append(f"Its CSV file is attached ({filesizeformat(size)}).")
        if settings.SITE_URL:
            lines.append(f"It is also on {download_url(report)}")
    else:
        lines.append(
            f"Its CSV file ({filesizeformat(size)}) is too large to attach; download it from "
            f"{download_url(report)}"
        )
    return "\n".join(lines) + "\n"


def send_webhook(delivery: Delivery) -> None:
    """POST the payload as JSON, signed; an answer other than 2xx is a failure."""
    target = delivery.target
    body = json.dumps(
        webhook_payload(delivery.report, target.schedule), cls=DjangoJSONEncoder
    ).encode()
    response = requests.post(
        target.url,
        data=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(target.secret, body),
            "X-Delivery-Id": str(delivery.pk),
        },
        timeout=settings.DELIVERY_WEBHOOK_TIMEOUT_SECONDS,
        allow_redirects=False,
    )
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"The webhook answered HTTP {response.status_code} {response.reason}.")


def webhook_payload(report: Report, schedule: ReportSchedule) -> dict:
    """The report's fields as the API gives them, its download link and its schedule's name."""
    return {
        **ReportSerializer(report).data,
        "downloadUrl": download_url(report),
        "scheduleName": schedule.name,
    }


def signature(secret: str, body: bytes) -> str:
    """As GitHub signs its webhooks: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def store_copy(delivery: Delivery) -> None:
    """Copy the report's file into the report files' storage under its storage key."""
    report = delivery.report
    key = storage_key(report, delivery.target)
    with report.file.open("rb") as file:
        default_storage.save(key, file)


def storage_key(report: Report, target: DeliveryTarget) -> str:
    """`<prefix>/<YYYY>/<MM>/<report's file name>`, the month of the report's period start in the
    schedule's time zone; with the report's id added when another object has the name (which
    may be this report's own copy, if a worker died between storing and recording it)."""
    start = report.start.astimezone(ZoneInfo(target.schedule.schedule_time_zone))
    folder = f"{target.prefix}/{start:%Y}/{start:%m}"
    key = f"{folder}/{download_name(report)}"
    if default_storage.exists(key):
        stem, suffix = download_name(report).rsplit(".", 1)
        key = f"{folder}/{stem}-{report.pk}.{suffix}"
        if default_storage.exists(key):  # this report's own copy, stored by an earlier attempt
            default_storage.delete(key)
    return key


def download_url(report: Report) -> str:
    """The absolute link that downloads the report (after a login)."""
    if not settings.SITE_URL:
        raise DeliveryError(
            "No link to the report can be made: ask an operator to set SITE_URL, the site's "
            "address."
        )
    return settings.SITE_URL + reverse("reports:report_download", args=[report.pk])


SENDERS: dict[str, Callable[[Delivery], None]] = {
    DeliveryKind.EMAIL: send_email,
    DeliveryKind.WEBHOOK: send_webhook,
    DeliveryKind.STORAGE: store_copy,
}
