"""The delivery targets of a report schedule in the API (ours, issue 16): add, list, read,
change and delete them; the webhook's secret only for who may change the schedule; the runs'
deliveries; another tenant's, and another schedule's, targets not found."""

from datetime import UTC, datetime

import pytest

from reports.models import Delivery, DeliveryTarget, Report
from reports.scheduling import run_now
from tests.api.conftest import bearer
from tests.api.test_report_schedules_api import (  # noqa: F401 - fixtures
    SCHEDULES,
    carols,
    outsider,
    schedule_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]

SECRET = "ab" * 32
NOT_FOUND = {"code": 404, "message": "Delivery target not found."}


@pytest.fixture(autouse=True)
def clock(time_machine):
    """Wednesday 2026-11-11 12:00 UTC."""
    time_machine.move_to(datetime(2026, 11, 11, 12, tzinfo=UTC), tick=False)


@pytest.fixture
def robots(robot):
    return schedule_of(robot, "Robot's daily")


@pytest.fixture
def carols_hook(carols):  # noqa: F811
    return DeliveryTarget.objects.create(
        schedule=carols, kind="webhook", url="https://hooks.example/carol", secret=SECRET
    )


def targets(schedule) -> str:
    return f"{SCHEDULES}/{schedule.pk}/targets"


def target(target: DeliveryTarget) -> str:
    return f"{SCHEDULES}/{target.schedule_id}/targets/{target.pk}"


class TestCreate:
    def test_a_webhook_is_added_and_its_secret_given(self, api, robots):
        response = api.post(
            targets(robots), {"kind": "webhook", "url": "https://hooks.example/r"}, format="json"
        )

        assert response.status_code == 201, response.json()
        saved = robots.targets.get()
        assert response.json() == {
            "id": saved.pk,
            "kind": "webhook",
            "recipients": [],
            "url": "https://hooks.example/r",
            "prefix": "",
            "enabled": True,
            "secret": saved.secret,
            "createdAt": "2026-11-11T12:00:00Z",
        }
        assert len(saved.secret) == 64

    def test_an_email_target_without_secret_and_the_other_kinds_fields_dropped(self, api, robots):
        body = {
            "kind": "email",
            "recipients": ["ops@acme.example", "fin@acme.example"],
            "url": "https://ignored.example",
            "enabled": False,
        }

        response = api.post(targets(robots), body, format="json")

        assert response.status_code == 201, response.json()
        answer = response.json()
        assert "secret" not in answer
        assert (answer["recipients"], answer["url"], answer["enabled"]) == (
            ["ops@acme.example", "fin@acme.example"],
            "",
            False,
        )
        saved = robots.targets.get()
        assert (saved.kind, saved.recipients, saved.url, saved.enabled) == (
            "email",
            ["ops@acme.example", "fin@acme.example"],
            "",
            False,
        )

    @pytest.mark.parametrize(
        "body, message",
        [
            ({"url": "https://x.example"}, "kind: This field is required."),
            ({"kind": "pigeon"}, 'kind: "pigeon" is not a valid choice.'),
            ({"kind": "webhook"}, "url: Give the URL the webhook is POSTed to."),
            ({"kind": "webhook", "url": "ftp://x.example"}, "url: Enter a valid URL."),
            (
                {"kind": "email", "recipients": ["ops@acme.example", "nobody"]},
                "recipients: Not e-mail addresses: 'nobody'.",
            ),
            ({"kind": "email"}, "recipients: Give at least one e-mail address."),
            ({"kind": "storage"}, "prefix: Give the key prefix the files go under."),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, api, robots, body, message):
        response = api.post(targets(robots), body, format="json")

        assert response.json() == {"code": 400, "message": message}
        assert not DeliveryTarget.objects.exists()

    def test_a_storage_prefix_in_the_report_files_folder_is_refused(self, api, robots):
        response = api.post(
            targets(robots), {"kind": "storage", "prefix": "reports/x"}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["message"] == (
            "prefix: Choose another prefix: reports/ holds the report files themselves."
        )


class TestReadChangeDelete:
    def test_list_and_get(self, api, robots):
        hook = DeliveryTarget.objects.create(
            schedule=robots, kind="webhook", url="https://hooks.example/r", secret=SECRET
        )
        store = DeliveryTarget.objects.create(schedule=robots, kind="storage", prefix="gpu")

        listed = api.get(targets(robots)).json()["targets"]

        assert [(t["id"], t["kind"], t.get("secret")) for t in listed] == [
            (hook.pk, "webhook", SECRET),
            (store.pk, "storage", None),
        ]
        assert api.get(target(store)).json()["prefix"] == "gpu"

    def test_patch_changes_only_the_fields_sent(self, api, robots):
        hook = DeliveryTarget.objects.create(
            schedule=robots, kind="webhook", url="https://hooks.example/r", secret=SECRET
        )

        response = api.patch(target(hook), {"enabled": False}, format="json")

        assert response.status_code == 200, response.json()
        hook.refresh_from_db()
        assert (hook.enabled, hook.url, hook.secret) == (False, "https://hooks.example/r", SECRET)

    def test_patch_to_another_kind_needs_its_field(self, api, robots):
        hook = DeliveryTarget.objects.create(
            schedule=robots, kind="webhook", url="https://hooks.example/r"
        )

        refused = api.patch(target(hook), {"kind": "email"}, format="json")
        changed = api.patch(
            target(hook), {"kind": "email", "recipients": ["a@acme.example"]}, format="json"
        )

        assert refused.json() == {
            "code": 400,
            "message": "recipients: Give at least one e-mail address.",
        }
        assert changed.status_code == 200
        hook.refresh_from_db()
        assert (hook.kind, hook.recipients, hook.url) == ("email", ["a@acme.example"], "")

    def test_delete(self, api, robots):
        hook = DeliveryTarget.objects.create(schedule=robots, kind="storage", prefix="gpu")

        assert api.delete(target(hook)).status_code == 204
        assert not DeliveryTarget.objects.exists()

    @pytest.mark.parametrize("target_id", ["x", "1.5", "-1", "1" * 19])
    def test_a_malformed_target_id_is_a_400(self, api, robots, target_id):
        response = api.get(f"{targets(robots)}/{target_id}")

        assert response.json() == {
            "code": 400,
            "message": "targetId: Not a target id (a whole number).",
        }

    def test_a_target_of_another_schedule_is_not_found(self, api, robots, carols_hook):
        elsewhere = f"{targets(robots)}/{carols_hook.pk}"

        responses = [
            api.get(elsewhere),
            api.patch(elsewhere, {"enabled": False}, format="json"),
            api.delete(elsewhere),
        ]

        assert [response.json() for response in responses] == [NOT_FOUND] * 3
        carols_hook.refresh_from_db()
        assert carols_hook.enabled


class TestWhoSeesWhat:
    def test_one_who_may_read_but_not_change_sees_no_secret(self, api, carols_hook):
        listed = api.get(targets(carols_hook.schedule)).json()["targets"]
        one = api.get(target(carols_hook)).json()

        assert [t["url"] for t in listed] == ["https://hooks.example/carol"]
        assert "secret" not in listed[0] and "secret" not in one
        assert SECRET not in str(listed) + str(one)

    def test_the_owner_sees_the_secret(self, carols_hook):
        carol = bearer(carols_hook.schedule.owner)

        assert carol.get(target(carols_hook)).json()["secret"] == SECRET

    def test_one_who_may_read_but_not_change_may_not_change(self, api, carols_hook):
        schedule = carols_hook.schedule
        refused = [
            api.post(targets(schedule), {"kind": "storage", "prefix": "x"}, format="json"),
            api.patch(target(carols_hook), {"enabled": False}, format="json"),
            api.delete(target(carols_hook)),
        ]

        assert [response.status_code for response in refused] == [403] * 3
        assert list(DeliveryTarget.objects.values_list("pk", "enabled")) == [(carols_hook.pk, True)]


class TestIsolation:
    def test_another_tenants_targets_are_not_found(self, outsider, carols_hook):  # noqa: F811
        schedule = carols_hook.schedule
        responses = [
            outsider.get(targets(schedule)),
            outsider.post(targets(schedule), {"kind": "storage", "prefix": "x"}, format="json"),
            outsider.get(target(carols_hook)),
            outsider.patch(target(carols_hook), {"enabled": False}, format="json"),
            outsider.delete(target(carols_hook)),
        ]

        assert [response.json() for response in responses] == [
            {"code": 404, "message": "Report schedule not found."}
        ] * 5
        assert list(DeliveryTarget.objects.values_list("pk", "enabled", "secret")) == [
            (carols_hook.pk, True, SECRET)
        ]


class TestRunsDeliveries:
    def test_each_run_lists_its_reports_deliveries(self, api, robots):
        hook = DeliveryTarget.objects.create(
            schedule=robots, kind="webhook", url="https://hooks.example/r"
        )
        mail = DeliveryTarget.objects.create(
            schedule=robots, kind="email", recipients=["ops@acme.example"]
        )
        report = run_now(robots).report
        Report.objects.filter(pk=report.pk).update(status="Ready")
        Delivery.objects.create(
            report=report,
            target=hook,
            status="Delivered",
            attempts=2,
            delivered_at=datetime(2026, 11, 11, 12, 5, tzinfo=UTC),
        )
        Delivery.objects.create(
            report=report, target=mail, status="Failed", attempts=5, last_error="Relay refused."
        )
        robots.runs.create(
            period_start=datetime(2026, 11, 1, tzinfo=UTC),
            period_end=datetime(2026, 11, 2, tzinfo=UTC),
            period_label="2026-11-01",
            status="Failed",
            message="No report.",
        )

        runs = api.get(f"{SCHEDULES}/{robots.pk}/runs").json()["runs"]

        assert [run["deliveries"] for run in runs] == [
            [],
            [
                {
                    "targetId": hook.pk,
                    "kind": "webhook",
                    "status": "Delivered",
                    "attempts": 2,
                    "lastError": "",
                    "deliveredAt": "2026-11-11T12:05:00Z",
                },
                {
                    "targetId": mail.pk,
                    "kind": "email",
                    "status": "Failed",
                    "attempts": 5,
                    "lastError": "Relay refused.",
                    "deliveredAt": None,
                },
            ],
        ]
