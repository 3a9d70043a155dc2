"""The operators' admin for usage: it stays quick on big tables and keeps the rollups exact."""

from decimal import Decimal

import pytest
from django.urls import reverse

from consumption.models import Price, UsageRollup, UsageSample
from reports_site.paging import AdminPaginator
from reports_site.tenancy.models import NodePool
from tests.consumption.samples import sample, save_samples


@pytest.fixture
def samples(org):
    save_samples(
        sample(org["vision"], "2026-03-10T10:00Z", 3600, workload="train", gpu=1),
        sample(org["nlp"], "2026-03-10T10:00Z", 3600, workload="serve", gpu=2),
    )
    return UsageSample.objects.order_by("workload")


@pytest.mark.django_db
class TestUsageSampleAdmin:
    def test_the_list_shows_samples_without_a_full_count(
        self, admin_client, samples, django_assert_max_num_queries
    ):
        url = reverse("admin:consumption_usagesample_changelist")
        with django_assert_max_num_queries(8):
            response = admin_client.get(url)
        assert response.status_code == 200
        assert response.context["cl"].show_full_result_count is False
        html = response.content.decode()
        assert "train" in html
        assert "serve" in html

    def test_search_is_an_exact_workload_name(self, admin_client, samples):
        url = reverse("admin:consumption_usagesample_changelist")
        response = admin_client.get(url, {"q": "train"})
        assert list(response.context["cl"].result_list) == [samples.get(workload="train")]

    def test_the_tenant_filter(self, admin_client, samples, other_org):
        acme_samples = set(samples)
        save_samples(sample(other_org["vision"], "2026-03-10T10:00Z", 60, workload="theirs"))
        url = reverse("admin:consumption_usagesample_changelist")
        response = admin_client.get(url, {"tenant": "acme"})
        assert set(response.context["cl"].result_list) == acme_samples

    def test_editing_a_sample_refreshes_its_rollup(self, admin_client, samples, org):
        train = samples.get(workload="train")
        url = reverse("admin:consumption_usagesample_change", args=[train.pk])
        data = {
            "project": train.project_id,
            "nodepool": train.nodepool_id,
            "workload": "train",
            "start_epoch": train.start_epoch,
            "duration_seconds": 3600,
            "gpu_allocated_micro": 3_000_000,
            "gpu_idle_micro": 0,
            "cpu_allocated_micro": 0,
            "cpu_used_micro": 0,
            "memory_allocated_bytes": 0,
            "memory_used_bytes": 0,
        }
        assert admin_client.post(url, data).status_code == 302
        rollup = UsageRollup.objects.get(project=org["vision"])
        assert rollup.gpu_allocated == 3_000_000 * 3600

    def test_deleting_samples_removes_them_from_the_rollups(self, admin_client, samples, org):
        url = reverse("admin:consumption_usagesample_changelist")
        response = admin_client.post(
            url,
            {
                "action": "delete_selected",
                "_selected_action": [s.pk for s in samples],
                "post": "yes",
            },
        )
        assert response.status_code == 302
        assert not UsageSample.objects.exists()
        assert not UsageRollup.objects.exists()


@pytest.mark.django_db
def test_the_paginator_counts_no_further_than_its_cap(samples, monkeypatch):
    monkeypatch.setattr(AdminPaginator, "count_limit", 1)
    assert AdminPaginator(samples, 100).count == 1
    assert samples.count() == 2


@pytest.mark.django_db
class TestPriceAdmin:
    def test_an_operator_adds_a_node_pools_price(self, admin_client, tenant, org):
        pool = NodePool.objects.create(cluster=org["east"], name="a100")
        response = admin_client.post(
            reverse("admin:consumption_price_add"),
            {
                "tenant": tenant.pk,
                "resource": "gpu",
                "nodepool": pool.pk,
                "amount": "3.20",
                "currency": "EUR",
                "valid_from_0": "2026-03-01",
                "valid_from_1": "00:00:00",
            },
        )
        assert response.status_code == 302, response.content.decode()
        price = Price.objects.get()
        assert (price.nodepool, price.amount, price.currency) == (pool, Decimal("3.2"), "EUR")
        listed = admin_client.get(reverse("admin:consumption_price_changelist"))
        assert "3.200000" in listed.content.decode()

    def test_another_tenants_node_pool_is_refused(self, admin_client, tenant, other_org):
        response = admin_client.post(
            reverse("admin:consumption_price_add"),
            {
                "tenant": tenant.pk,
                "resource": "gpu",
                "nodepool": NodePool.objects.create(cluster=other_org["east"], name="x").pk,
                "amount": "1",
                "currency": "eur",
                "valid_from_0": "2026-03-01",
                "valid_from_1": "00:00:00",
            },
        )
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert errors["nodepool"] == ["This node pool belongs to another tenant."]
        assert "three capital letters" in errors["currency"][0]
        assert not Price.objects.exists()
