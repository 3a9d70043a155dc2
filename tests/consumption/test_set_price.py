"""`manage.py set_price`: a tenant's prices from the command line."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from consumption.models import Price
from reports_site.tenancy.models import NodePool


def set_price(*args) -> str:
    out = io.StringIO()
    call_command("set_price", "--tenant", "acme", *args, stdout=out)
    return out.getvalue()


def prices() -> list[tuple]:
    return list(
        Price.objects.order_by("valid_from", "pk").values_list(
            "resource",
            "nodepool__cluster__name",
            "nodepool__name",
            "amount",
            "currency",
            "valid_from",
        )
    )


@pytest.mark.django_db
class TestSetPrice:
    def test_a_default_price_from_a_date(self, org):
        out = set_price(
            "--resource", "gpu", "--price", "2.75", "--currency", "eur", "--from", "2026-03-01"
        )
        assert prices() == [
            ("gpu", None, None, Decimal("2.75"), "EUR", datetime(2026, 3, 1, tzinfo=UTC))
        ]
        assert "Set acme's price: 2.75 EUR per GPU-hour from 2026-03-01 00:00 UTC." in out

    @time_machine.travel(datetime(2026, 5, 4, 10, 30, 15, 123456, tzinfo=UTC), tick=False)
    def test_from_now_by_default(self, org):
        set_price("--resource", "memory", "--price", "0.004", "--currency", "USD")
        assert prices()[0][-1] == datetime(2026, 5, 4, 10, 30, 15, tzinfo=UTC)

    def test_a_node_pools_price(self, org):
        NodePool.objects.create(cluster=org["east"], name="a100")
        set_price(
            *("--resource", "gpu", "--price", "4", "--currency", "EUR"),
            *("--nodepool", "a100", "--from", "2026-03-10T12:00+01:00"),
        )
        assert prices() == [
            ("gpu", "east", "a100", Decimal("4"), "EUR", datetime(2026, 3, 10, 11, tzinfo=UTC))
        ]

    def test_the_same_moment_again_replaces_the_price(self, org):
        for amount in ("1", "1.25"):
            set_price(
                "--resource", "cpu", "--price", amount, "--currency", "EUR", "--from", "2026-03-01"
            )
        assert [row[3] for row in prices()] == [Decimal("1.25")]

    def test_a_pool_name_in_several_clusters_needs_its_cluster(self, org):
        for cluster in ("east", "west"):
            NodePool.objects.create(cluster=org[cluster], name="h100")
        args = ["--resource", "gpu", "--price", "4", "--currency", "EUR", "--nodepool"]
        with pytest.raises(
            CommandError, match="in several clusters; give one of east/h100, west/h100"
        ):
            set_price(*args, "h100")
        set_price(*args, "west/h100", "--from", "2026-03-01")
        assert prices()[0][1:3] == ("west", "h100")

    @pytest.mark.parametrize(
        "args, message",
        [
            (["--price", "lots", "--currency", "EUR"], "--price: 'lots' is not a number."),
            (
                ["--price", "-1", "--currency", "EUR"],
                "--price: Ensure this value is greater than or equal to 0.",
            ),
            (["--price", "1", "--currency", "EURO"], "--currency: "),
            (["--price", "1", "--currency", "E1R"], "three capital letters"),
            (
                ["--price", "1", "--currency", "EUR", "--nodepool", "nope"],
                "acme has no node pool 'nope'",
            ),
            (
                ["--price", "1", "--currency", "EUR", "--from", "March"],
                "--from: 'March' is not an ISO 8601",
            ),
        ],
    )
    def test_bad_input_is_named_and_nothing_is_set(self, org, args, message):
        with pytest.raises(CommandError) as refused:
            set_price("--resource", "gpu", *args)
        assert message in str(refused.value)
        assert not Price.objects.exists()

    def test_an_unknown_tenant(self, org):
        with pytest.raises(CommandError, match="Tenant 'nobody' does not exist"):
            call_command(
                "set_price",
                "--tenant",
                "nobody",
                "--resource",
                "gpu",
                "--price",
                "1",
                "--currency",
                "EUR",
            )
