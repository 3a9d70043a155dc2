"""consumption_rows against numbers worked out by hand (spec 3.3 and 4.3), on both paths: the
daily rollups with raw samples at the edges, and the raw samples alone."""

import math
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumption.aggregation import ConsumptionRow, consumption_rows, parse_filters
from consumption.measures import (
    GROUP_BY,
    MEASURES,
    SUMS,
    WORKLOAD,
    Segment,
    grouping_of,
    half_up,
)
from consumption.models import UsageRollup
from reports_site.tenancy.models import Project
from tests.consumption.samples import GIB, sample, save_samples

MARCH = (datetime.fromisoformat("2026-03-01T00:00Z"), datetime.fromisoformat("2026-04-01T00:00Z"))
BOTH_PATHS = pytest.mark.parametrize("use_rollups", [True, False], ids=["rollups", "raw"])


def rows(tenant, period=MARCH, group_by=Segment.PROJECT, filters=None, projects=None, **kwargs):
    return consumption_rows(
        tenant=tenant,
        start=period[0],
        end=period[1],
        group_by=group_by,
        filters=parse_filters(filters or []),
        projects=Project.objects.for_tenant(tenant) if projects is None else projects,
        **kwargs,
    )


def table(result: list[ConsumptionRow]) -> list[tuple]:
    return [(*row.segment, *row.measures) for row in result]


def hours(text: str) -> Decimal:
    return Decimal(text)


@pytest.mark.django_db
class TestMeasures:
    @BOTH_PATHS
    def test_each_measure_of_a_sample_inside_the_period(self, tenant, org, use_rollups):
        save_samples(
            sample(
                org["vision"],
                "2026-03-10T10:00Z",
                3600,
                gpu="2",
                idle="0.5",
                cpu="4",
                cpu_used="3.25",
                memory=8 * GIB,
                memory_used=4 * GIB,
            )
        )
        assert table(rows(tenant, use_rollups=use_rollups)) == [
            (
                "east",
                "research",
                "vision",
                hours("2.0000"),
                hours("0.5000"),
                hours("4.0000"),
                hours("3.2500"),
                8 * GIB,
                4 * GIB,
            )
        ]

    @BOTH_PATHS
    def test_fractional_gpus_and_short_samples_round_to_four_places(self, tenant, org, use_rollups):
        # 0.25 GPU for 10 s = 0.000694444 h; memory 1000 bytes for 10 s = 2.777... byte-hours.
        save_samples(
            sample(org["vision"], "2026-03-10T10:00Z", 10, gpu="0.25", memory=1000),
            sample(org["vision"], "2026-03-10T11:00Z", 9, workload="other", gpu="0.25"),
        )
        [row] = rows(tenant, use_rollups=use_rollups)
        # 0.25 × 19 s / 3600 = 0.0013194...
        assert row.measure("gpu_allocation_hours") == hours("0.0013")
        assert row.measure("memory_allocation_byte_hours") == 3

    @BOTH_PATHS
    def test_exact_halves_round_up(self, tenant, org, use_rollups):
        # Halves of the last place, which rounding half to even would take down: 0.02 GPU for
        # 9 s = 0.00005 h, 0.25 core for 2 × 9 s = 0.00125 h, 200 bytes for 9 s = 0.5
        # byte-hours. Just under a half rounds down.
        save_samples(
            sample(org["vision"], "2026-03-10T10:00Z", 9, gpu="0.02", cpu="0.25", memory=200),
            sample(org["vision"], "2026-03-10T11:00Z", 9, workload="b", cpu="0.25"),
            sample(org["vision"], "2026-03-10T12:00Z", 9, workload="c", memory_used=199),
        )
        [row] = rows(tenant, use_rollups=use_rollups)
        assert row.measure("gpu_allocation_hours") == hours("0.0001")
        assert row.measure("cpu_allocation_hours") == hours("0.0013")
        assert row.measure("memory_allocation_byte_hours") == 1
        assert row.measure("memory_usage_byte_hours") == 0  # 199 × 9 s = 0.4975 byte-hours
        assert str(row.measure("gpu_idle_hours")) == "0.0000"

    @BOTH_PATHS
    def test_a_sample_straddling_the_start_counts_pro_rata(self, tenant, org, use_rollups):
        save_samples(sample(org["vision"], "2026-02-28T23:30Z", 3600, gpu=1, cpu=2, memory=3600))
        [row] = rows(tenant, use_rollups=use_rollups)
        assert row.measure("gpu_allocation_hours") == hours("0.5000")
        assert row.measure("cpu_allocation_hours") == hours("1.0000")
        assert row.measure("memory_allocation_byte_hours") == 1800

    @BOTH_PATHS
    def test_a_sample_straddling_the_end_counts_pro_rata(self, tenant, org, use_rollups):
        save_samples(sample(org["vision"], "2026-03-31T23:45Z", 3600, gpu=1, idle="0.4"))
        [row] = rows(tenant, use_rollups=use_rollups)
        assert row.measure("gpu_allocation_hours") == hours("0.2500")
        assert row.measure("gpu_idle_hours") == hours("0.1000")

    @BOTH_PATHS
    def test_a_period_inside_one_sample(self, tenant, org, use_rollups):
        save_samples(sample(org["vision"], "2026-03-10T00:00Z", 86400, gpu=3, cpu_used="0.5"))
        period = (
            datetime.fromisoformat("2026-03-10T06:00Z"),
            datetime.fromisoformat("2026-03-10T07:30Z"),
        )
        [row] = rows(tenant, period=period, use_rollups=use_rollups)
        assert row.measure("gpu_allocation_hours") == hours("4.5000")
        assert row.measure("cpu_usage_hours") == hours("0.7500")

    @BOTH_PATHS
    def test_unaligned_edges_around_whole_days(self, tenant, org, use_rollups):
        # The period covers 18:00 on the 9th to 06:00 on the 12th: two partial days, two whole.
        save_samples(
            *[
                sample(org["vision"], f"2026-03-{day:02d}T{hour:02d}:00Z", 3600, gpu=1)
                for day in (9, 10, 11, 12)
                for hour in range(24)
            ]
        )
        period = (
            datetime.fromisoformat("2026-03-09T18:00Z"),
            datetime.fromisoformat("2026-03-12T06:00Z"),
        )
        [row] = rows(tenant, period=period, use_rollups=use_rollups)
        assert row.measure("gpu_allocation_hours") == hours("60.0000")

    @BOTH_PATHS
    def test_a_sample_running_past_midnight_counts_once(self, tenant, org, use_rollups):
        save_samples(sample(org["vision"], "2026-03-10T23:00Z", 7200, gpu=1))
        [row] = rows(tenant, use_rollups=use_rollups)
        assert row.measure("gpu_allocation_hours") == hours("2.0000")

    @BOTH_PATHS
    def test_a_sample_that_ends_where_the_period_starts_is_left_out(self, tenant, org, use_rollups):
        save_samples(
            sample(org["vision"], "2026-02-28T23:00Z", 3600, gpu=1),
            sample(org["nlp"], "2026-04-01T00:00Z", 3600, gpu=1),
        )
        assert rows(tenant, use_rollups=use_rollups) == []

    @BOTH_PATHS
    def test_usage_above_allocation_is_reported_as_it_is(self, tenant, org, use_rollups):
        save_samples(sample(org["vision"], "2026-03-10T10:00Z", 3600, cpu=1, cpu_used="1.5"))
        [row] = rows(tenant, use_rollups=use_rollups)
        assert row.measure("cpu_allocation_hours") == hours("1")
        assert row.measure("cpu_usage_hours") == hours("1.5")

    def test_a_segment_with_only_zero_amounts_still_appears(self, tenant, org):
        save_samples(sample(org["vision"], "2026-03-10T10:00Z", 3600))
        assert table(rows(tenant)) == [("east", "research", "vision", 0, 0, 0, 0, 0, 0)]

    def test_huge_memory_totals_stay_exact(self, tenant, org):
        # 1 PB for a year of day-long samples: 8.76e18 byte-hours, past a 64-bit float's precision.
        petabyte = 10**15
        save_samples(
            *[
                sample(org["vision"], f"2026-{month:02d}-{day:02d}T00:00Z", 86400, memory=petabyte)
                for month in range(1, 13)
                for day in range(1, 29)
            ]
        )
        year = (
            datetime.fromisoformat("2026-01-01T00:00Z"),
            datetime.fromisoformat("2027-01-01T00:00Z"),
        )
        [row] = rows(tenant, period=year)
        assert row.measure("memory_allocation_byte_hours") == petabyte * 24 * 12 * 28


@pytest.fixture
def spread(org):
    """One hour of one GPU in each project, in two node pools of east."""
    save_samples(
        sample(org["vision"], "2026-03-10T10:00Z", 3600, gpu=1),
        sample(org["vision"], "2026-03-10T11:00Z", 3600, gpu=1, nodepool="a100"),
        sample(org["nlp"], "2026-03-10T10:00Z", 3600, gpu=2),
        sample(org["infra"], "2026-03-10T10:00Z", 3600, gpu=4, nodepool="a100"),
        sample(org["llm"], "2026-03-10T10:00Z", 3600, gpu=8),
    )
    return org


def gpu_hours(result: list[ConsumptionRow]) -> list[tuple]:
    return [(*row.segment, row.measure("gpu_allocation_hours")) for row in result]


@pytest.mark.django_db
class TestSegments:
    def test_by_project(self, tenant, spread):
        assert gpu_hours(rows(tenant, group_by=Segment.PROJECT)) == [
            ("east", "ops", "infra", 4),
            ("east", "research", "nlp", 2),
            ("east", "research", "vision", 2),
            ("west", "training", "llm", 8),
        ]

    def test_by_department(self, tenant, spread):
        assert gpu_hours(rows(tenant, group_by=Segment.DEPARTMENT)) == [
            ("east", "ops", 4),
            ("east", "research", 4),
            ("west", "training", 8),
        ]

    def test_by_cluster(self, tenant, spread):
        assert gpu_hours(rows(tenant, group_by=Segment.CLUSTER)) == [("east", 8), ("west", 8)]

    def test_by_node_pool(self, tenant, spread):
        assert gpu_hours(rows(tenant, group_by=Segment.NODEPOOL)) == [
            ("east", "a100", 5),
            ("east", "default", 3),
            ("west", "default", 8),
        ]

    @BOTH_PATHS
    def test_by_workload(self, tenant, spread, use_rollups):
        save_samples(
            sample(spread["vision"], "2026-03-11T10:00Z", 1800, workload="eval", gpu=1),
            sample(spread["vision"], "2026-03-11T10:00Z", 5400, workload="train", gpu=2),
            sample(spread["vision"], "2026-03-12T23:00Z", 7200, workload="train", gpu=1),
        )
        assert gpu_hours(rows(tenant, group_by=WORKLOAD, use_rollups=use_rollups)) == [
            ("east", "ops", "infra", "job", 4),
            ("east", "research", "nlp", "job", 2),
            ("east", "research", "vision", "eval", Decimal("0.5")),
            ("east", "research", "vision", "job", 2),
            ("east", "research", "vision", "train", 5),
            ("west", "training", "llm", "job", 8),
        ]

    def test_a_workload_name_is_kept_as_it_was_given(self, tenant, org):
        save_samples(sample(org["llm"], "2026-03-10T10:00Z", 3600, workload="Train-ß 1", gpu=1))
        assert gpu_hours(rows(tenant, group_by=WORKLOAD)) == [
            ("west", "training", "llm", "Train-ß 1", 1)
        ]

    def test_the_columns_of_each_segment(self):
        assert {group_by: grouping_of(group_by).columns for group_by in GROUP_BY} == {
            "Cluster": ("Cluster",),
            "Department": ("Cluster", "Department"),
            "Project": ("Cluster", "Department", "Project"),
            "Nodepool": ("Cluster", "Node pool"),
            "Workload": ("Cluster", "Department", "Project", "Workload"),
        }
        assert MEASURES[0].column == "GPU allocation hours"
        assert MEASURES[-1].column == "CPU Memory bytes usage hours"

    def test_another_tenants_usage_never_counts(self, tenant, spread, other_org):
        save_samples(sample(other_org["vision"], "2026-03-10T10:00Z", 3600, gpu=100))
        assert gpu_hours(rows(tenant, group_by=Segment.CLUSTER)) == [("east", 8), ("west", 8)]
        # Even when the caller (wrongly) passes the other tenant's projects.
        everything = Project.objects.all()
        assert gpu_hours(rows(tenant, group_by=Segment.CLUSTER, projects=everything)) == [
            ("east", 8),
            ("west", 8),
        ]


@pytest.mark.django_db
class TestFilters:
    def test_project_name(self, tenant, spread):
        result = rows(tenant, filters=["projectName==nlp"])
        assert gpu_hours(result) == [("east", "research", "nlp", 2)]

    def test_several_values_of_one_field_are_alternatives(self, tenant, spread):
        result = rows(tenant, filters=["projectName==nlp", "projectName==llm"])
        assert gpu_hours(result) == [("east", "research", "nlp", 2), ("west", "training", "llm", 8)]

    def test_department_name(self, tenant, spread):
        result = rows(tenant, group_by=Segment.DEPARTMENT, filters=["departmentName==ops"])
        assert gpu_hours(result) == [("east", "ops", 4)]

    def test_cluster_id(self, tenant, spread):
        result = rows(
            tenant, group_by=Segment.CLUSTER, filters=[f"clusterId=={spread['west'].uuid}"]
        )
        assert gpu_hours(result) == [("west", 8)]

    def test_different_fields_must_all_hold(self, tenant, spread):
        result = rows(
            tenant,
            filters=[
                f"clusterId=={spread['east'].uuid}",
                "departmentName==research",
                "projectName==vision",
                "projectName==llm",
            ],
        )
        assert gpu_hours(result) == [("east", "research", "vision", 2)]

    @pytest.mark.parametrize(
        "condition, message",
        [
            ("projectName=vision", "Invalid filter 'projectName=vision'"),
            ("owner==bob", "Invalid filter 'owner==bob'"),
            ("projectName==", "the value is empty"),
            ("clusterId==east", "not a cluster UUID"),
        ],
    )
    def test_bad_filters_are_refused_with_a_message(self, condition, message):
        with pytest.raises(ValueError, match=message):
            parse_filters([condition])


@pytest.mark.django_db
class TestHiddenProjects:
    """A requester who may read only vision and infra sees nothing of nlp or llm."""

    @pytest.fixture
    def readable(self, spread):
        return [spread["vision"].pk, spread["infra"].pk]

    def test_project_rows(self, tenant, readable):
        assert gpu_hours(rows(tenant, projects=readable)) == [
            ("east", "ops", "infra", 4),
            ("east", "research", "vision", 2),
        ]

    def test_department_rows_sum_only_visible_projects(self, tenant, readable):
        assert gpu_hours(rows(tenant, group_by=Segment.DEPARTMENT, projects=readable)) == [
            ("east", "ops", 4),
            ("east", "research", 2),
        ]

    def test_cluster_rows(self, tenant, readable):
        assert gpu_hours(rows(tenant, group_by=Segment.CLUSTER, projects=readable)) == [("east", 6)]

    def test_node_pool_rows(self, tenant, readable):
        assert gpu_hours(rows(tenant, group_by=Segment.NODEPOOL, projects=readable)) == [
            ("east", "a100", 5),
            ("east", "default", 1),
        ]

    def test_a_readable_queryset_works_like_ids(self, tenant, readable):
        queryset = Project.objects.filter(pk__in=readable)
        assert rows(tenant, projects=queryset) == rows(tenant, projects=readable)


@pytest.mark.django_db
class TestBadPeriods:
    def test_start_must_be_before_end(self, tenant):
        with pytest.raises(ValueError, match="start must be before its end"):
            rows(tenant, period=(MARCH[1], MARCH[0]))

    def test_times_need_a_zone(self, tenant):
        with pytest.raises(ValueError, match="has no time zone"):
            rows(tenant, period=(datetime(2026, 3, 1), MARCH[1]))

    def test_unknown_segment(self, tenant):
        with pytest.raises(ValueError, match="Unknown segment 'Job'"):
            rows(tenant, group_by="Job")


@pytest.mark.django_db
class TestManyWindows:
    @BOTH_PATHS
    def test_a_bucket_of_each_of_300_days_in_kolkata(self, tenant, org, use_rollups):
        # Kolkata's midnights are at 18:30 UTC: no local day holds a whole UTC day, so every
        # day is read from the samples, more windows than one query takes.
        save_samples(
            sample(org["llm"], "2026-01-01T18:00Z", 3600, gpu=1),  # 30 min each side of midnight
            sample(org["llm"], "2026-10-20T10:00Z", 3600, gpu=2),
        )
        period = (
            datetime.fromisoformat("2025-12-31T18:30Z"),
            datetime.fromisoformat("2026-10-27T18:30Z"),
        )
        result = rows(
            tenant,
            period=period,
            group_by=Segment.CLUSTER,
            bucket="Day",
            time_zone="Asia/Kolkata",
            use_rollups=use_rollups,
        )
        assert [(str(row.period_start), *gpu_hours([row])[0]) for row in result] == [
            ("2026-01-01", "west", Decimal("0.5")),
            ("2026-01-02", "west", Decimal("0.5")),
            ("2026-10-20", "west", 2),
        ]


@given(st.integers(-(10**18), 10**18), st.integers(1, 10**12))
def test_half_up_rounds_halves_away_from_zero_on_both_sides_of_zero(numerator, denominator):
    exact = Fraction(abs(numerator), denominator)
    rounded = math.floor(exact + Fraction(1, 2))  # halves up, for the size
    assert half_up(numerator, denominator) == (rounded if numerator >= 0 else -rounded)


def test_the_index_of_days_holds_every_sum_a_report_reads():
    # So that PostgreSQL reads a report's whole days from the index alone, never the table.
    [index] = [i for i in UsageRollup._meta.indexes if i.name == "usage_rollup_days_with_sums"]
    assert (index.fields, sorted(index.include)) == (["day", "project"], sorted(SUMS))
