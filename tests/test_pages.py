"""Login, logout, the layout's navigation, and the front door."""

import pytest
from django.urls import reverse

from tests.factories import TEST_PASSWORD


@pytest.mark.django_db
class TestLogin:
    def test_the_front_door_leads_anonymous_users_to_the_login_page(self, client):
        response = client.get("/", follow=True)
        assert response.redirect_chain[-1][0].startswith(reverse("login"))
        assert b'name="password"' in response.content

    def test_a_user_logs_in_by_email_and_sees_analytics_reports(self, client, alice):
        response = client.post(
            reverse("login"),
            {"username": "Alice@Acme.example", "password": TEST_PASSWORD},
            follow=True,
        )
        assert response.wsgi_request.user == alice
        assert response.redirect_chain[-1][0] == reverse("reports:report_list")
        html = response.content.decode()
        assert "Analytics" in html
        assert f'href="{reverse("reports:report_list")}"' in html
        assert 'aria-current="page">Reports</a>' in html

    def test_a_wrong_password_is_refused_and_the_email_is_kept(self, client, alice):
        response = client.post(
            reverse("login"), {"username": alice.email, "password": "not the password"}
        )
        assert response.status_code == 200
        assert not response.wsgi_request.user.is_authenticated
        html = response.content.decode()
        assert "Please enter a correct email and password" in html
        assert f'value="{alice.email}"' in html

    def test_an_inactive_user_cannot_log_in(self, client, alice):
        alice.is_active = False
        alice.save()
        client.post(reverse("login"), {"username": alice.email, "password": TEST_PASSWORD})
        assert "_auth_user_id" not in client.session

    def test_login_requires_a_csrf_token(self, alice):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        response = client.post(
            reverse("login"), {"username": alice.email, "password": TEST_PASSWORD}
        )
        assert response.status_code == 403

    def test_logout_is_a_post_and_ends_the_session(self, client, alice):
        client.force_login(alice)
        assert client.get(reverse("logout")).status_code == 405
        response = client.post(reverse("logout"))
        assert response.url == reverse("login")
        assert "_auth_user_id" not in client.session


@pytest.mark.django_db
class TestReportsPage:
    def test_it_requires_login(self, client):
        response = client.get(reverse("reports:report_list"))
        assert response.status_code == 302
        assert response.url == f"{reverse('login')}?next={reverse('reports:report_list')}"

    def test_it_shows_for_a_logged_in_user(self, client, alice):
        client.force_login(alice)
        response = client.get(reverse("reports:report_list"))
        assert response.status_code == 200
        assert "<h1>Reports</h1>" in response.content.decode()

    def test_the_page_loads_only_local_assets(self, client, alice):
        client.force_login(alice)
        html = client.get(reverse("reports:report_list")).content.decode()
        assert "http://" not in html
        assert "https://" not in html
        assert "/static/css/site.css" in html


@pytest.mark.django_db
class TestAdmin:
    def test_an_operator_sees_every_tenancy_model(self, admin_client):
        html = admin_client.get(reverse("admin:index")).content.decode()
        for model in [
            "tenant",
            "cluster",
            "nodepool",
            "department",
            "project",
            "user",
            "serviceaccount",
            "role",
            "accessrule",
        ]:
            assert reverse(f"admin:tenancy_{model}_changelist") in html

    @pytest.mark.parametrize(
        "model",
        [
            "tenant",
            "cluster",
            "nodepool",
            "department",
            "project",
            "user",
            "serviceaccount",
            "role",
            "accessrule",
        ],
    )
    def test_each_list_and_add_page_renders(self, admin_client, model, org, alice):
        assert admin_client.get(reverse(f"admin:tenancy_{model}_changelist")).status_code == 200
        assert admin_client.get(reverse(f"admin:tenancy_{model}_add")).status_code == 200

    def test_an_analyst_cannot_enter_the_admin(self, client, alice):
        client.force_login(alice)
        response = client.get(reverse("admin:index"))
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))

    def test_adding_a_service_account_shows_its_secret_once(self, admin_client, tenant):
        from reports_site.tenancy.models import ServiceAccount

        response = admin_client.post(
            reverse("admin:tenancy_serviceaccount_add"),
            {"tenant": tenant.pk, "name": "ci-bot", "is_active": "on"},
            follow=True,
        )
        account = ServiceAccount.objects.get(tenant=tenant, name="ci-bot")
        [message] = [str(m) for m in response.context["messages"] if "secret" in str(m)]
        secret = message.split("secret ")[1].split(" ")[0]
        assert account.client_id in message
        assert account.check_secret(secret)
        assert secret not in account.secret_hash

    def test_adding_a_cluster_gives_it_a_default_node_pool(self, admin_client, tenant):
        from reports_site.tenancy.models import Cluster

        admin_client.post(
            reverse("admin:tenancy_cluster_add"),
            {
                "tenant": tenant.pk,
                "name": "north",
                "uuid": "2f1d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
                "nodepools-TOTAL_FORMS": "0",
                "nodepools-INITIAL_FORMS": "0",
            },
        )
        cluster = Cluster.objects.get(tenant=tenant, name="north")
        assert list(cluster.nodepools.values_list("name", flat=True)) == ["default"]

    def test_a_default_pool_typed_for_a_new_cluster_is_refused_with_a_message(
        self, admin_client, tenant
    ):
        from reports_site.tenancy.models import Cluster

        response = admin_client.post(
            reverse("admin:tenancy_cluster_add"),
            {
                "tenant": tenant.pk,
                "name": "north",
                "uuid": "2f1d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
                "nodepools-TOTAL_FORMS": "1",
                "nodepools-INITIAL_FORMS": "0",
                "nodepools-0-name": "default",
            },
        )
        assert response.status_code == 200
        assert "node pool; leave it out here." in response.content.decode()
        assert not Cluster.objects.filter(name="north").exists()
