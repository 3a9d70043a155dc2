"""The demo's reports, so that the first screen of `make run` is not empty: some Ready, one
Failed with its message, one Pending (the worker builds it as soon as it starts)."""

from datetime import timedelta

from django.utils import timezone

from consumption.measures import Segment
from reports_site.tenancy.models import User

from . import services
from .admin import OPERATOR_FAILED_MESSAGE
from .models import Report
from .tasks import build_report

DEMO_OWNER = "viewer@demo.example"

# name -> (description, segment, whole days before today, what becomes of it)
DEMO_REPORTS = {
    "GPU by project, last 7 days": (
        "Weekly review of the research projects.",
        Segment.PROJECT,
        7,
        "build",
    ),
    "Departments, last 14 days": ("", Segment.DEPARTMENT, 14, "build"),
    "Node pools, last 3 days": ("A100 against H100.", Segment.NODEPOOL, 3, "build"),
    "Clusters, yesterday": ("", Segment.CLUSTER, 1, "fail"),
    "Projects, today so far": ("", Segment.PROJECT, 0, "queue"),
}


def seed_demo_reports() -> list[Report]:
    """Make the demo reports that are missing (by name), as the demo's tenant-wide viewer."""
    owner = User.objects.get(email=DEMO_OWNER)
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    made = []
    for name, (description, segment, days, fate) in DEMO_REPORTS.items():
        if Report.objects.named(owner.tenant_id, name).exists():
            continue
        report = services.create_report(
            owner,
            name=name,
            description=description,
            group_by=segment,
            start=today - timedelta(days=days),
            end=today + timedelta(days=1) if fate == "queue" else today,
        )
        if fate == "build":
            build_report(str(report.pk))
        elif fate == "fail":
            Report.objects.filter(pk=report.pk).fail(OPERATOR_FAILED_MESSAGE)
        made.append(report)
    return made
