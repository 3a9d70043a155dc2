"""Property: on random data, the rollup-backed aggregation, the raw-sample aggregation, and a
brute-force sum in Python over the samples all give the same rows (spec 3.3, 4.3), for every
segment, with and without time buckets, in UTC and in zones whose midnights are not UTC's (one
of them changing its clocks inside the data: the United States on 8 March 2026)."""

import decimal
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from consumption.aggregation import consumption_rows
from consumption.measures import GROUP_BY, WORKLOAD, Segment
from consumption.models import MICRO, UsageSample
from reports_site.tenancy.models import NodePool
from tests.consumption.samples import save_samples

DAY = 86_400
ORIGIN = 1_773_000_000 // DAY * DAY  # a UTC midnight in March 2026
SPAN = 6 * DAY

samples_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "project": st.sampled_from(["vision", "nlp", "infra", "llm"]),
            "workload": st.sampled_from(["train", "eval"]),
            "pool": st.sampled_from(["default", "a100"]),
            # Any second, or on the hour as collected samples are.
            "start": st.one_of(
                st.integers(ORIGIN - DAY, ORIGIN + SPAN),
                st.integers(-24, SPAN // 3600).map(lambda hour: ORIGIN + hour * 3600),
            ),
            "duration": st.one_of(st.integers(1, DAY), st.sampled_from([1, 3600, DAY])),
            "gpu": st.integers(0, 8 * MICRO),
            "idle_share": st.fractions(0, 1),
            "cpu": st.integers(0, 64 * MICRO),
            "cpu_used": st.integers(0, 80 * MICRO),
            "memory": st.integers(0, 10**13),
            "memory_used": st.integers(0, 10**13),
        }
    ),
    max_size=25,
)
# Periods: aligned or not, shorter or longer than a day, inside the data or around it.
period_strategy = st.one_of(
    st.tuples(st.integers(ORIGIN - 2 * DAY, ORIGIN + SPAN), st.integers(1, SPAN + 2 * DAY)),
    st.tuples(
        st.integers(-2, 6).map(lambda day: ORIGIN + day * DAY),
        st.integers(1, 8).map(lambda days: days * DAY),
    ),
)


ZONES = ["UTC", "Asia/Kolkata", "America/New_York"]


def local_days(start: int, end: int, zone: str):
    """[start, end) cut at the zone's midnights: (local day, piece start, piece end)."""
    tz = ZoneInfo(zone)
    day = datetime.fromtimestamp(start, tz).date()
    while True:
        following = day + timedelta(days=1)
        midnight = datetime(following.year, following.month, following.day, tzinfo=tz)
        piece_end = min(int(midnight.timestamp()), end)
        yield day, start, piece_end
        if piece_end >= end:
            return
        day, start = following, piece_end


def bucket_of(day: date, bucket: str | None) -> date | None:
    if bucket == "Day":
        return day
    if bucket == "Week":
        return date.fromisocalendar(*day.isocalendar()[:2], 1)
    if bucket == "Month":
        return day.replace(day=1)
    return None


def row_names(s: UsageSample, group_by: str) -> tuple[str, ...]:
    """The names of the row that a sample counts for, worked out from the sample itself."""
    project = (s.project.cluster.name, s.project.department.name, s.project.name)
    return {
        Segment.PROJECT: project,
        Segment.DEPARTMENT: project[:2],
        Segment.CLUSTER: project[:1],
        Segment.NODEPOOL: (s.project.cluster.name, s.nodepool.name),
        WORKLOAD: (*project, s.workload),
    }[group_by]


def drawn_samples(org, drawn: list[dict]) -> list[UsageSample]:
    """Unsaved samples of the drawn dictionaries, one per identity (project, workload, start)."""
    samples, seen = [], set()
    for d in drawn:
        if (d["project"], d["workload"], d["start"]) in seen:
            continue
        seen.add((d["project"], d["workload"], d["start"]))
        project = org[d["project"]]
        pool, _ = NodePool.objects.get_or_create(cluster=project.cluster, name=d["pool"])
        samples.append(
            UsageSample(
                project=project,
                nodepool=pool,
                workload=d["workload"],
                start_epoch=d["start"],
                duration_seconds=d["duration"],
                gpu_allocated_micro=d["gpu"],
                gpu_idle_micro=int(d["gpu"] * d["idle_share"]),
                cpu_allocated_micro=d["cpu"],
                cpu_used_micro=d["cpu_used"],
                memory_allocated_bytes=d["memory"],
                memory_used_bytes=d["memory_used"],
            )
        )
    return samples


def brute_force(
    samples: list[UsageSample],
    start: int,
    end: int,
    group_by: str,
    bucket: str | None = None,
    zone: str = "UTC",
) -> list[tuple]:
    """The spec's formula, sample by sample, in exact decimal arithmetic; with a bucket, each
    sample's part in each local day counts for that day's bucket."""
    totals = defaultdict(lambda: [Decimal(0)] * 6)
    for s in samples:
        first, last = max(s.start_epoch, start), min(s.start_epoch + s.duration_seconds, end)
        if first >= last:
            continue
        amounts = [
            Decimal(s.gpu_allocated_micro) / MICRO,
            Decimal(s.gpu_idle_micro) / MICRO,
            Decimal(s.cpu_allocated_micro) / MICRO,
            Decimal(s.cpu_used_micro) / MICRO,
            Decimal(s.memory_allocated_bytes),
            Decimal(s.memory_used_bytes),
        ]
        for day, piece_start, piece_end in local_days(first, last, zone):
            row = totals[(bucket_of(day, bucket), *row_names(s, group_by))]
            for index, amount in enumerate(amounts):
                # exact: amounts have at most six decimals
                row[index] += amount * (piece_end - piece_start)
    four = Decimal("0.0001")
    with decimal.localcontext(prec=60):  # wide enough that dividing by 3600 loses nothing
        return sorted(
            (
                *segment,
                *((v / 3600).quantize(four, rounding=ROUND_HALF_UP) for v in values[:4]),
                *(int((v / 3600).quantize(Decimal(1), rounding=ROUND_HALF_UP)) for v in values[4:]),
            )
            for segment, values in totals.items()
        )


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    drawn=samples_strategy,
    period=period_strategy,
    group_by=st.sampled_from(GROUP_BY),
    bucket=st.sampled_from([None, "Day", "Week", "Month"]),
    zone=st.sampled_from(ZONES),
)
def test_rollups_raw_samples_and_brute_force_agree(
    org, tenant, drawn, period, group_by, bucket, zone
):
    with transaction.atomic():
        samples = drawn_samples(org, drawn)
        if samples:
            save_samples(*samples)
        start, length = period
        expected = brute_force(samples, start, start + length, group_by, bucket, zone)
        target(len(expected))  # steer towards data that makes many rows
        for use_rollups in (True, False):
            result = consumption_rows(
                tenant=tenant,
                start=datetime.fromtimestamp(start, UTC),
                end=datetime.fromtimestamp(start + length, UTC),
                group_by=group_by,
                projects=[p.pk for p in org.values() if hasattr(p, "department_id")],
                use_rollups=use_rollups,
                bucket=bucket,
                time_zone=zone,
            )
            assert [(r.period_start, *r.segment, *r.measures) for r in result] == expected, (
                use_rollups
            )
        transaction.set_rollback(True)
