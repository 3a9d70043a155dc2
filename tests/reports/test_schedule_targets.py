"""A schedule's delivery targets on its page (reports.schedule_views): who sees them and their
webhook secrets, who adds, enables, disables and deletes them and rotates a secret, errors
beside their fields, and the history's delivery status of each run per target."""

import html as html_module
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from reports.models import Delivery, DeliveryTarget, Report
from reports.scheduling import run_now
from tests.factories import UserFactory, grant
from tests.reports.test_schedule_pages import logged_in, schedule_of, table_rows, url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]

# The actions on one target, all POST.
TARGET_ACTIONS = ["target_enable", "target_disable", "target_rotate_secret", "target_delete"]
WEBHOOK = {"kind": "webhook", "url": "https://hooks.example/gpu", "recipients": "", "prefix": ""}
SECRET = "5e" * 32


@pytest.fixture(autouse=True)
def clock(time_machine):
    """Wednesday 2026-11-11 12:00 UTC."""
    time_machine.move_to(datetime(2026, 11, 11, 12, tzinfo=UTC), tick=False)


@pytest.fixture
def bobs(researcher):
    """bob's schedule: bob is a researcher of vision only."""
    return schedule_of(researcher, "Bob's daily")


@pytest.fixture
def hook(bobs):
    """A webhook target of bob's schedule, its secret known."""
    return DeliveryTarget.objects.create(
        schedule=bobs, kind="webhook", url="https://hooks.example/bob", secret=SECRET
    )


def target_url(name: str, target: DeliveryTarget) -> str:
    return reverse(f"schedules:{name}", args=[target.schedule_id, target.pk])


def targets_table(page: str) -> list[list[str]]:
    return table_rows(page.split('id="targets-table"', 1)[1])


class TestTargetsShown:
    def test_the_owner_sees_each_target_and_the_webhooks_secret(self, researcher, bobs, hook):
        DeliveryTarget.objects.create(
            schedule=bobs, kind="email", recipients=["a@acme.example", "b@acme.example"]
        )
        DeliveryTarget.objects.create(schedule=bobs, kind="storage", prefix="gpu", enabled=False)

        page = logged_in(researcher).get(url("schedule_detail", bobs)).content.decode()

        assert targets_table(page) == [
            ["Webhook", "https://hooks.example/bob", "Yes", f"{SECRET} Rotate secret",
             "Disable Delete"],
            ["E-mail", "a@acme.example, b@acme.example", "Yes", "–", "Disable Delete"],
            ["Object storage", "gpu/", "No", "–", "Enable Delete"],
        ]  # fmt: skip

    def test_one_who_may_only_read_sees_the_targets_without_the_secret(self, viewer, hook):
        page = logged_in(viewer).get(url("schedule_detail", hook.schedule)).content.decode()

        assert targets_table(page) == [["Webhook", "https://hooks.example/bob", "Yes"]]
        assert SECRET not in page
        assert 'id="target-form"' not in page

    def test_without_targets_it_says_so(self, researcher, bobs):
        page = logged_in(researcher).get(url("schedule_detail", bobs)).content.decode()

        assert targets_table(page) == [["Its reports are sent nowhere: they are in Reports."]]


class TestTargetCreate:
    @pytest.mark.parametrize(
        "fields, saved",
        [
            (WEBHOOK, ("webhook", [], "https://hooks.example/gpu", "")),
            (
                {"kind": "email", "recipients": "ops@acme.example,\n fin@acme.example"},
                ("email", ["ops@acme.example", "fin@acme.example"], "", ""),
            ),
            (
                # The fields of the other kinds are dropped.
                {"kind": "storage", "prefix": "gpu/monthly", "url": "https://x.example"},
                ("storage", [], "", "gpu/monthly"),
            ),
        ],
    )
    def test_the_owner_adds_one_of_each_kind(self, researcher, bobs, fields, saved):
        response = logged_in(researcher).post(url("target_create", bobs), fields)

        assert response.status_code == 302
        assert response.url == url("schedule_detail", bobs)
        target = bobs.targets.get()
        assert (target.kind, target.recipients, target.url, target.prefix) == saved
        assert target.enabled
        assert len(target.secret) == 64

    @pytest.mark.parametrize(
        "fields, field, message",
        [
            ({"kind": "webhook", "url": "hooks dot example"}, "url", "Enter a valid URL."),
            ({"kind": "webhook", "url": ""}, "url", "Give the URL the webhook is POSTed to."),
            (
                {"kind": "email", "recipients": "ops@acme.example, nobody"},
                "recipients",
                "Not e-mail addresses: 'nobody'.",
            ),
            ({"kind": "email"}, "recipients", "Give at least one e-mail address."),
            (
                {"kind": "storage", "prefix": "gpu/../etc"},
                "prefix",
                "Use folder names of letters, digits, '.', '_' and '-' separated by single '/', "
                "such as gpu-reports/monthly.",
            ),
            ({"kind": "carrier pigeon"}, "kind", "Select a valid choice."),
        ],
    )
    def test_bad_input_is_named_beside_its_field_and_kept(
        self, researcher, bobs, fields, field, message
    ):
        response = logged_in(researcher).post(url("target_create", bobs), fields)

        assert response.status_code == 400
        form = response.context["target_form"]
        assert list(form.errors) == [field]
        [error] = form.errors[field]
        assert error.startswith(message)
        page = html_module.unescape(response.content.decode())
        assert message in page
        assert fields.get(field, "") in page  # what was typed, kept
        assert not DeliveryTarget.objects.exists()

    def test_one_who_may_only_read_may_not(self, viewer, bobs):
        response = logged_in(viewer).post(url("target_create", bobs), WEBHOOK)

        assert response.status_code == 403
        assert not DeliveryTarget.objects.exists()

    def test_who_may_delete_the_tenants_reports_may(self, tenant, bobs):
        admin = UserFactory(email="admin@acme.example", tenant=tenant)
        grant(admin, "System administrator", tenant)

        assert logged_in(admin).post(url("target_create", bobs), WEBHOOK).status_code == 302
        assert bobs.targets.get().url == WEBHOOK["url"]


class TestTargetActions:
    def test_disable_and_enable(self, researcher, hook):
        client = logged_in(researcher)

        assert client.post(target_url("target_disable", hook)).status_code == 302
        hook.refresh_from_db()
        assert not hook.enabled
        client.post(target_url("target_enable", hook))
        hook.refresh_from_db()
        assert hook.enabled

    def test_rotate_secret_gives_a_new_one(self, researcher, hook):
        response = logged_in(researcher).post(target_url("target_rotate_secret", hook))

        assert response.status_code == 302
        hook.refresh_from_db()
        assert hook.secret != SECRET
        assert len(hook.secret) == 64

    def test_delete(self, researcher, hook):
        response = logged_in(researcher).post(target_url("target_delete", hook), follow=True)

        assert not DeliveryTarget.objects.exists()
        assert "Reports are no longer sent to Webhook: https://hooks.example/bob." in (
            html_module.unescape(response.content.decode())
        )

    @pytest.mark.parametrize("action", TARGET_ACTIONS)
    def test_actions_are_posts(self, researcher, hook, action):
        assert logged_in(researcher).get(target_url(action, hook)).status_code == 405

    @pytest.mark.parametrize("action", TARGET_ACTIONS)
    def test_one_who_may_only_read_may_not(self, viewer, hook, action):
        assert logged_in(viewer).post(target_url(action, hook)).status_code == 403
        hook.refresh_from_db()
        assert (hook.enabled, hook.secret) == (True, SECRET)

    @pytest.mark.parametrize("action", TARGET_ACTIONS)
    def test_a_target_of_another_schedule_is_not_found(self, researcher, hook, action):
        other = schedule_of(researcher, "Bob's other")
        address = reverse(f"schedules:{action}", args=[other.pk, hook.pk])

        assert logged_in(researcher).post(address).status_code == 404
        hook.refresh_from_db()
        assert (hook.enabled, hook.secret) == (True, SECRET)

    @pytest.mark.parametrize("action", [*TARGET_ACTIONS, "target_create"])
    def test_another_tenants_targets_are_not_found(self, charlie, hook, action):
        grant(charlie, "System administrator", charlie.tenant)
        address = (
            url(action, hook.schedule) if action == "target_create" else target_url(action, hook)
        )

        assert logged_in(charlie).post(address, WEBHOOK).status_code == 404
        assert list(DeliveryTarget.objects.values_list("enabled", "secret")) == [(True, SECRET)]

    @pytest.mark.parametrize("action", [*TARGET_ACTIONS, "target_create"])
    def test_every_form_needs_its_csrf_token(self, researcher, hook, action):
        client = Client(enforce_csrf_checks=True)
        client.force_login(researcher)
        address = (
            url(action, hook.schedule) if action == "target_create" else target_url(action, hook)
        )

        assert client.post(address, WEBHOOK).status_code == 403
        assert list(DeliveryTarget.objects.values_list("enabled", "secret")) == [(True, SECRET)]


class TestHistory:
    def test_each_run_shows_its_delivery_to_each_target(self, researcher, bobs, hook):
        mail = DeliveryTarget.objects.create(
            schedule=bobs, kind="email", recipients=["ops@acme.example"]
        )
        store = DeliveryTarget.objects.create(schedule=bobs, kind="storage", prefix="gpu")
        report = run_now(bobs).report
        Report.objects.filter(pk=report.pk).update(status="Ready")
        delivered_at = datetime(2026, 11, 11, 12, 1, tzinfo=UTC)
        Delivery.objects.create(
            report=report, target=hook, status="Delivered", attempts=1, delivered_at=delivered_at
        )
        Delivery.objects.create(
            report=report, target=mail, status="Failed", attempts=5, last_error="Relay refused."
        )
        Delivery.objects.create(
            report=report, target=store, attempts=1, last_error="Storage timed out."
        )

        page = logged_in(researcher).get(url("schedule_detail", bobs)).content.decode()

        history = page.split('id="runs-table"', 1)[1]
        assert table_rows(history) == [
            [
                "2026-11-10",
                "Made run now",
                "",
                "Bob's daily 2026-11-10 Ready",
                "Webhook: https://hooks.example/bob: Delivered "
                "E-mail: ops@acme.example: Failed Relay refused. "
                "Object storage: gpu/: Pending Retrying after: Storage timed out.",
                "2026-11-11 12:00",
            ]
        ]

    def test_a_run_without_deliveries_shows_a_dash(self, researcher, bobs):
        run_now(bobs)

        page = logged_in(researcher).get(url("schedule_detail", bobs)).content.decode()

        assert table_rows(page.split('id="runs-table"', 1)[1])[0][4] == "–"
