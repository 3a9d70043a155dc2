"""What a report's usage costs: the tenant's prices over the report's period, and a row's cost
columns charged from its sums.

Costs are charged on allocation: GPU-hours, CPU core-hours, and GiB-hours of CPU memory
(byte-hours / 2^30), each at the price that holds in the usage's node pool at that moment: the
node pool's own price if one holds, else the tenant's default. The aggregation cuts the period
at every moment a price changes, so that each piece of usage has one price. Amounts stay exact
fractions until each cost column is rounded to cents; the idle GPU-hours' cost is part of the
GPU cost, and the total is the exact sum of the GPU, CPU and CPU memory costs, rounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

from reports_site.tenancy.models import NodePool, Tenant

from .measures import COSTS, exact_measure, half_up
from .models import GIB, Price, Resource

# Each cost column but the total, in the order of COSTS: the resource whose price it charges and
# the measure it charges for.
_CHARGED = (
    (Resource.GPU, "gpu_allocation_hours"),
    (Resource.GPU, "gpu_idle_hours"),
    (Resource.CPU, "cpu_allocation_hours"),
    (Resource.MEMORY, "memory_allocation_byte_hours"),
)
_TOTALLED = (0, 2, 3)  # the GPU (its idle part included), CPU and CPU memory costs
assert len(_CHARGED) + 1 == len(COSTS)

Missing = set[tuple[str, int]]  # (resource, node pool id): usage that no price holds for


class PricingError(ValueError):
    """Costs that cannot be given; the message says why, to the report's reader."""


class PriceBook:
    """The prices of a tenant that hold at some moment of [start, end): the one currency they
    share, the moments inside the period at which one changes, and the one that holds for a
    resource in a node pool at a moment (moments in seconds since the epoch)."""

    def __init__(self, tenant: Tenant, start: datetime, end: datetime):
        period_start, period_end = int(start.timestamp()), int(end.timestamp())
        # (resource, node pool or None for the default): [(holds from, amount, currency)]
        self._held: dict[tuple[str, int | None], list[tuple[int, Fraction, str]]] = {}
        prices = Price.objects.filter(tenant=tenant, valid_from__lt=end).order_by("valid_from")
        for price in prices:
            held = self._held.setdefault((price.resource, price.nodepool_id), [])
            moment = int(price.valid_from.timestamp())
            if moment <= period_start:
                held.clear()  # superseded by the time the period begins
            held.append((moment, Fraction(price.amount), price.currency))
        self.currency = _one_currency(tenant, {c for held in self._held.values() for *_, c in held})
        self.changes = sorted(
            {m for held in self._held.values() for m, *_ in held if period_start < m < period_end}
        )

    def price(self, resource: str, nodepool_id: int, moment: int) -> Fraction | None:
        """The amount per unit that holds for `resource` in the node pool at `moment`."""
        for key in ((resource, nodepool_id), (resource, None)):
            holding = [amount for start, amount, _ in self._held.get(key, ()) if start <= moment]
            if holding:
                return holding[-1]
        return None

    def charge(
        self, sums: Sequence[int], nodepool_id: int, moment: int, missing: Missing
    ) -> list[Fraction]:
        """The exact cost columns but the total of usage with these sums (in the order of
        SUMS), in the node pool, at the prices that hold at `moment`; usage that no price
        holds for is added to `missing` (and charged nothing)."""
        amounts = []
        for resource, measure in _CHARGED:
            quantity = exact_measure(measure, sums)
            if resource == Resource.MEMORY:
                quantity /= GIB
            price = self.price(resource, nodepool_id, moment)
            if price is None and quantity:
                missing.add((resource, nodepool_id))
            amounts.append(quantity * (price or 0))
        return amounts

    def missing_message(self, missing: Missing) -> str:
        """What a report with costs says when prices are missing for some of its usage."""
        pools = {
            pk: f"{cluster}/{name}"
            for pk, cluster, name in NodePool.objects.filter(
                pk__in={pool for _, pool in missing}
            ).values_list("pk", "cluster__name", "name")
        }
        gaps = []
        for resource, pool in sorted(missing, key=lambda gap: (pools[gap[1]], gap[0])):
            starts = [
                held[0][0]
                for key in ((resource, pool), (resource, None))
                if (held := self._held.get(key))
            ]
            when = (
                f"before {datetime.fromtimestamp(min(starts), UTC):%Y-%m-%d %H:%M} UTC"
                if starts
                else "at all"
            )
            name = Resource(resource).label.split(" (")[0]
            gaps.append(f"{name} in node pool {pools[pool]} {when}")
        return (
            "No price holds for some of this report's usage: "
            + "; ".join(gaps)
            + ". Set the missing prices with `manage.py set_price` or in the admin, then "
            "create the report again."
        )


def cents(amounts: Sequence[Fraction]) -> tuple[Decimal, ...]:
    """The cost columns, in the order of COSTS, from the exact amounts `charge` gives (summed
    over a row's usage): each rounded half up to cents, the total from the exact amounts."""
    total = sum(amounts[n] for n in _TOTALLED)
    return tuple(_to_cents(amount) for amount in (*amounts, total))


def _to_cents(amount: Fraction) -> Decimal:
    return Decimal(half_up(amount.numerator * 100, amount.denominator)).scaleb(-2)


def _one_currency(tenant: Tenant, currencies: set[str]) -> str:
    if not currencies:
        raise PricingError(
            f"No prices are set for {tenant.name} during this period: set them with "
            "`manage.py set_price` or in the admin, then create the report again."
        )
    if len(currencies) > 1:
        raise PricingError(
            f"Prices in {' and '.join(sorted(currencies))} hold during this period; a report's "
            "costs are in one currency."
        )
    return currencies.pop()
