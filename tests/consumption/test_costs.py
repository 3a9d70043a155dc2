"""Costs: each row's GPU, GPU idle, CPU, CPU memory and total cost at the tenant's prices,
against amounts worked out by hand and, on random data, a brute force that charges every
sample piece by piece at the price that holds in its node pool at that moment."""

import itertools
from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumption.aggregation import consumption_rows
from consumption.measures import GROUP_BY, WORKLOAD, Segment
from consumption.models import MICRO, Price
from consumption.pricing import PriceBook, PricingError
from reports_site.tenancy.models import NodePool, Project
from tests.consumption.samples import GIB, sample, save_samples
from tests.consumption.test_rollups_match_raw import (
    DAY,
    ORIGIN,
    SPAN,
    bucket_of,
    drawn_samples,
    local_days,
    period_strategy,
    row_names,
    samples_strategy,
)

MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
BOTH_PATHS = pytest.mark.parametrize("use_rollups", [True, False], ids=["rollups", "raw"])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def price(tenant, resource, amount, valid_from, currency="EUR", nodepool=None) -> Price:
    return Price.objects.create(
        tenant=tenant,
        resource=resource,
        amount=Decimal(amount),
        currency=currency,
        valid_from=at(valid_from),
        nodepool=nodepool,
    )


def pool(project: Project, name: str) -> NodePool:
    return NodePool.objects.get_or_create(cluster=project.cluster, name=name)[0]


def costs(tenant, period=MARCH, group_by=Segment.PROJECT, **kwargs) -> list[tuple]:
    rows = consumption_rows(
        tenant=tenant,
        start=period[0],
        end=period[1],
        group_by=group_by,
        projects=Project.objects.for_tenant(tenant),
        prices=PriceBook(tenant, *period),
        **kwargs,
    )
    return [(row.period_start, *row.segment, *row.costs) for row in rows]


def money(*texts: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(text) for text in texts)


@pytest.mark.django_db
class TestCosts:
    @BOTH_PATHS
    def test_a_price_change_inside_a_sample_and_a_node_pool_price(self, tenant, org, use_rollups):
        price(tenant, "gpu", "1.00", "2026-01-01T00:00Z")
        price(tenant, "gpu", "1.50", "2026-03-10T11:00Z")  # in the middle of vision's sample
        price(tenant, "gpu", "4.00", "2026-03-01T00:00Z", nodepool=pool(org["nlp"], "a100"))
        price(tenant, "cpu", "0.05", "2026-01-01T00:00Z")
        price(tenant, "memory", "0.01", "2026-01-01T00:00Z")
        save_samples(
            # 2 GPUs (1 idle), 4 cores, 2 GiB for two hours: one at 1.00, one at 1.50.
            sample(org["vision"], "2026-03-10T10:00Z", 7200, gpu=2, idle=1, cpu=4, memory=2 * GIB),
            # 1 GPU for three hours in a100, whose own price holds all along.
            sample(org["nlp"], "2026-03-10T10:00Z", 3 * 3600, gpu=1, nodepool="a100"),
        )
        assert costs(tenant, use_rollups=use_rollups) == [
            # GPU 2×1.00 + 2×1.50; idle 1×1.00 + 1×1.50; CPU 8 core-hours × 0.05;
            # memory 4 GiB-hours × 0.01; total 5.00 + 0.40 + 0.04.
            (None, "east", "research", "nlp", *money("12.00", "0.00", "0.00", "0.00", "12.00")),
            (None, "east", "research", "vision", *money("5.00", "2.50", "0.40", "0.04", "5.44")),
        ]

    def test_each_day_of_a_bucketed_report_at_its_own_price(self, tenant, org):
        price(tenant, "gpu", "2.00", "2026-03-01T00:00Z")
        price(tenant, "gpu", "3.00", "2026-03-11T00:00Z")
        for resource in ("cpu", "memory"):
            price(tenant, resource, "0", "2026-03-01T00:00Z")
        save_samples(sample(org["llm"], "2026-03-10T23:00Z", 7200, gpu=1))
        assert costs(tenant, group_by=Segment.CLUSTER, bucket="Day") == [
            (datetime(2026, 3, 10).date(), "west", *money("2.00", "0.00", "0.00", "0.00", "2.00")),
            (datetime(2026, 3, 11).date(), "west", *money("3.00", "0.00", "0.00", "0.00", "3.00")),
        ]

    def test_the_total_is_rounded_from_the_exact_amounts(self, tenant, org):
        price(tenant, "gpu", "0.01", "2026-03-01T00:00Z")
        price(tenant, "cpu", "0.01", "2026-03-01T00:00Z")
        price(tenant, "memory", "0", "2026-03-01T00:00Z")
        # Half a GPU-hour and half a core-hour: 0.005 each, 0.01 each once rounded, and
        # 0.010 together.
        save_samples(sample(org["llm"], "2026-03-10T10:00Z", 1800, gpu=1, cpu=1))
        assert costs(tenant, group_by=Segment.CLUSTER) == [
            (None, "west", *money("0.01", "0.00", "0.01", "0.00", "0.01"))
        ]

    def test_a_price_before_the_period_holds_until_the_next(self, tenant, org):
        price(tenant, "gpu", "9.00", "2025-01-01T00:00Z")
        price(tenant, "gpu", "1.00", "2026-02-01T00:00Z")  # supersedes it before March
        price(tenant, "gpu", "7.00", "2026-04-01T00:00Z")  # after the period: not used
        for resource in ("cpu", "memory"):
            price(tenant, resource, "0", "2026-02-01T00:00Z")
        save_samples(sample(org["llm"], "2026-03-10T10:00Z", 3600, gpu=1))
        assert costs(tenant, group_by=Segment.CLUSTER) == [
            (None, "west", *money("1.00", "0.00", "0.00", "0.00", "1.00"))
        ]

    def test_per_workload(self, tenant, org):
        price(tenant, "gpu", "1.00", "2026-03-01T00:00Z")
        for resource in ("cpu", "memory"):
            price(tenant, resource, "0", "2026-03-01T00:00Z")
        save_samples(
            sample(org["llm"], "2026-03-10T10:00Z", 3600, gpu=1, workload="a"),
            sample(org["llm"], "2026-03-10T10:00Z", 3600, gpu=3, workload="b"),
        )
        assert [row[4:6] for row in costs(tenant, group_by=WORKLOAD)] == [
            ("a", Decimal("1.00")),
            ("b", Decimal("3.00")),
        ]


@pytest.mark.django_db
class TestMissingPrices:
    def test_usage_before_the_first_price_is_named(self, tenant, org):
        price(tenant, "gpu", "1.00", "2026-03-10T00:00Z")
        for resource in ("cpu", "memory"):
            price(tenant, resource, "0", "2026-03-01T00:00Z")
        save_samples(
            sample(org["nlp"], "2026-03-05T10:00Z", 3600, gpu=1, nodepool="a100"),
            sample(org["llm"], "2026-03-20T10:00Z", 3600, gpu=1),  # priced: not named
        )
        with pytest.raises(PricingError) as missing:
            costs(tenant)
        assert str(missing.value) == (
            "No price holds for some of this report's usage: GPU in node pool east/a100 "
            "before 2026-03-10 00:00 UTC. Set the missing prices with `manage.py set_price` "
            "or in the admin, then create the report again."
        )

    def test_a_resource_without_any_price(self, tenant, org):
        price(tenant, "gpu", "1.00", "2026-03-01T00:00Z")
        save_samples(sample(org["llm"], "2026-03-10T10:00Z", 3600, gpu=1, cpu=2, memory=GIB))
        with pytest.raises(
            PricingError,
            match="CPU in node pool west/default at all; "
            "CPU memory in node pool west/default at all",
        ):
            costs(tenant)

    def test_no_usage_of_an_unpriced_resource_needs_no_price(self, tenant, org):
        price(tenant, "gpu", "1.00", "2026-03-01T00:00Z")
        save_samples(sample(org["llm"], "2026-03-10T10:00Z", 3600, gpu=1))
        assert costs(tenant, group_by=Segment.CLUSTER) == [
            (None, "west", *money("1.00", "0.00", "0.00", "0.00", "1.00"))
        ]

    def test_no_prices_at_all(self, tenant, org):
        with pytest.raises(PricingError, match="No prices are set for .* during this period"):
            PriceBook(tenant, *MARCH)

    def test_two_currencies(self, tenant, org):
        price(tenant, "gpu", "1.00", "2026-01-01T00:00Z", currency="EUR")
        price(tenant, "cpu", "1.00", "2026-03-15T00:00Z", currency="USD")
        with pytest.raises(PricingError, match="Prices in EUR and USD hold during this period"):
            PriceBook(tenant, *MARCH)

    def test_a_currency_that_no_longer_holds_does_not_count(self, tenant, org):
        price(tenant, "gpu", "1.00", "2025-01-01T00:00Z", currency="USD")
        price(tenant, "gpu", "1.00", "2026-01-01T00:00Z", currency="EUR")
        assert PriceBook(tenant, *MARCH).currency == "EUR"


# Random prices: a default for each resource from before the data, then changes, some of them
# of one node pool, at any second of the data's span.
RESOURCES = ["gpu", "cpu", "memory"]
prices_strategy = st.lists(
    st.tuples(
        st.sampled_from(RESOURCES),
        st.sampled_from([None, "default", "a100"]),
        st.one_of(
            st.integers(ORIGIN - DAY, ORIGIN + SPAN),
            st.integers(0, SPAN // 3600).map(lambda hour: ORIGIN + hour * 3600),
        ),
        st.decimals(0, 100, places=6),
    ),
    max_size=8,
)


def brute_force_costs(samples, prices, start, end, group_by, bucket, zone) -> list[tuple]:
    """Every sample cut at the zone's midnights and at every price's moment, each piece charged
    at the price that holds then in its node pool (its own, else the default), summed exactly
    by row and rounded half up to cents at the end."""

    def holding(resource, pool_name, moment):
        for wanted in (pool_name, None):
            found = [
                (f, amount)
                for r, p, f, amount in prices
                if r == resource and p == wanted and f <= moment
            ]
            if found:
                return max(found)[1]  # the latest; one per moment
        return None

    moments = sorted({f for _, _, f, _ in prices})
    totals = defaultdict(lambda: [Fraction(0)] * 4)
    for s in samples:
        first, last = max(s.start_epoch, start), min(s.start_epoch + s.duration_seconds, end)
        for day, piece_start, piece_end in local_days(first, last, zone) if first < last else ():
            cuts = [piece_start, *(m for m in moments if piece_start < m < piece_end), piece_end]
            for a, b in itertools.pairwise(cuts):
                hours = Fraction(b - a, 3600)
                quantities = [
                    ("gpu", Fraction(s.gpu_allocated_micro, MICRO) * hours),
                    ("gpu", Fraction(s.gpu_idle_micro, MICRO) * hours),
                    ("cpu", Fraction(s.cpu_allocated_micro, MICRO) * hours),
                    ("memory", Fraction(s.memory_allocated_bytes, GIB) * hours),
                ]
                row = totals[(bucket_of(day, bucket), *row_names(s, group_by))]
                for index, (resource, quantity) in enumerate(quantities):
                    amount = holding(resource, s.nodepool.name, a)
                    if amount is None:
                        assert quantity == 0, "the strategy gives every resource a default"
                        continue
                    row[index] += quantity * Fraction(amount)

    def cents(value: Fraction) -> Decimal:
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    return sorted(
        (*row, *(cents(v) for v in values), cents(values[0] + values[2] + values[3]))
        for row, values in totals.items()
    )


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    drawn=samples_strategy,
    changes=prices_strategy,
    period=period_strategy,
    group_by=st.sampled_from(GROUP_BY),
    bucket=st.sampled_from([None, "Day", "Week"]),
    zone=st.sampled_from(["UTC", "Asia/Kolkata"]),
)
def test_costs_match_a_brute_force(org, tenant, drawn, changes, period, group_by, bucket, zone):
    with transaction.atomic():
        samples = drawn_samples(org, drawn)
        if samples:
            save_samples(*samples)
        origin = ORIGIN - 3 * DAY  # before any sample or period
        prices = [(resource, None, origin, Decimal("1.5")) for resource in RESOURCES]
        taken = {(r, p, f) for r, p, f, _ in prices}
        for resource, pool_name, moment, amount in changes:
            if (resource, pool_name, moment) not in taken:
                taken.add((resource, pool_name, moment))
                prices.append((resource, pool_name, moment, amount))
        for resource, pool_name, moment, amount in prices:
            # The pool of that name in each cluster.
            pools = (
                [None]
                if pool_name is None
                else [pool(org[p], pool_name) for p in ("vision", "llm")]
            )
            for nodepool in pools:
                Price.objects.create(
                    tenant=tenant,
                    resource=resource,
                    nodepool=nodepool,
                    amount=amount,
                    currency="EUR",
                    valid_from=datetime.fromtimestamp(moment, UTC),
                )
        start, length = period
        expected = brute_force_costs(samples, prices, start, start + length, group_by, bucket, zone)
        for use_rollups in (True, False):
            period_ = (
                datetime.fromtimestamp(start, UTC),
                datetime.fromtimestamp(start + length, UTC),
            )
            result = consumption_rows(
                tenant=tenant,
                start=period_[0],
                end=period_[1],
                group_by=group_by,
                projects=[p.pk for p in org.values() if hasattr(p, "department_id")],
                use_rollups=use_rollups,
                bucket=bucket,
                time_zone=zone,
                prices=PriceBook(tenant, *period_),
            )
            assert [(r.period_start, *r.segment, *r.costs) for r in result] == expected
        transaction.set_rollback(True)
