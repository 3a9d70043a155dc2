"""Content-Security-Policy: sent on every page, and no page needs what it forbids (inline scripts,
event-handler attributes, inline styles)."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from reports.models import Report
from reports.services import create_report
from tests.factories import UserFactory
from tests.reports.conftest import MARCH, ready_report


class InlineCode(HTMLParser):
    """Collects what a strict policy blocks: script bodies, on* attributes, style attributes and
    <style> elements, javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._script_body: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style={value!r}>")
            if name in {"href", "src", "action"} and (value or "").lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script":
            self._script_body = []

    def handle_data(self, data):
        if self._script_body is not None:
            self._script_body.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script_body is not None:
            body = "".join(self._script_body).strip()
            if body:
                self.found.append(f"<script> with a body: {body[:60]!r}")
            self._script_body = None


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser.found


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


@pytest.fixture
def report(viewer, usage, no_queue) -> Report:
    """A Ready report of alice's (with a chart), and a Pending one that the list polls."""
    create_report(viewer, name="Later", start=MARCH[0], end=MARCH[1])
    return ready_report(viewer, "March", group_by="Project")


@pytest.fixture
def operator(db):
    return UserFactory(email="root@example.com", tenant=None, is_staff=True, is_superuser=True)


ANALYST_PAGES = {
    "list": lambda report: reverse("reports:report_list"),
    "new": lambda report: reverse("reports:report_create"),
    "detail": lambda report: reverse("reports:report_detail", args=[report.pk]),
}
OPERATOR_PAGES = {
    "admin index": lambda report: reverse("admin:index"),
    "admin reports": lambda report: reverse("admin:reports_report_changelist"),
    "admin report": lambda report: reverse("admin:reports_report_change", args=[report.pk]),
    "admin user": lambda report: reverse(
        "admin:tenancy_user_change", args=[report.created_by_user_id]
    ),
    "admin login failures": lambda report: reverse("admin:axes_accessattempt_changelist"),
}
ANONYMOUS_PAGES = {
    "login": lambda report: reverse("login"),
    "admin login": lambda report: reverse("admin:login"),
    "API docs": lambda report: reverse("api:docs"),
}


def pages(table: dict) -> list:
    return [pytest.param(url, id=name) for name, url in table.items()]


@pytest.mark.django_db
class TestContentSecurityPolicy:
    def get(self, client, url: str):
        response = client.get(url)
        assert response.status_code == 200, url
        return response

    def assert_strict(self, response):
        directives = policy(response)
        assert directives["default-src"] == ["'self'"]
        assert directives["script-src"] == ["'self'"]
        assert directives["style-src"] == ["'self'"]
        assert directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert inline_code(response.content.decode()) == []

    @pytest.mark.parametrize("url", pages(ANALYST_PAGES))
    def test_an_analysts_pages_are_strict(self, client, alice, report, url):
        client.force_login(alice)
        self.assert_strict(self.get(client, url(report)))

    @pytest.mark.parametrize("url", pages(OPERATOR_PAGES))
    def test_the_admins_pages_are_strict(self, client, operator, report, url):
        client.force_login(operator)
        self.assert_strict(self.get(client, url(report)))

    @pytest.mark.parametrize("url", pages(ANONYMOUS_PAGES))
    def test_the_pages_without_login_are_strict(self, client, report, url):
        self.assert_strict(self.get(client, url(report)))

    def test_the_delete_dialog_is_strict(self, client, alice, report):
        client.force_login(alice)
        response = client.post(
            reverse("reports:report_delete"), {"ids": [report.pk]}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200
        assert "<dialog" in response.content.decode()
        self.assert_strict(response)

    def test_a_failed_login_and_the_lockout_page_are_strict(self, client, alice, settings):
        settings.AXES_ENABLED = True
        for _ in range(settings.LOGIN_MAX_FAILURES - 1):
            self.assert_strict(
                client.post(reverse("login"), {"username": alice.email, "password": "wrong"})
            )
        response = client.post(reverse("login"), {"username": alice.email, "password": "wrong"})
        assert response.status_code == 429
        self.assert_strict(response)

    def test_the_api_docs_load_their_start_up_script_from_a_file(self, client, db):
        html = self.get(client, reverse("api:docs")).content.decode()
        assert 'src="/api/docs/?script="' in html

        script = self.get(client, reverse("api:docs") + "?script=")

        assert script["Content-Type"].startswith("application/javascript")
        assert "SwaggerUIBundle(" in script.content.decode()

    def test_the_page_layout_tells_htmx_to_use_no_eval_and_no_inline_style(self, client, db):
        html = self.get(client, reverse("login")).content.decode()
        assert '"includeIndicatorStyles": false' in html
        assert '"allowEval": false' in html

    def test_a_charts_bars_are_sized_without_inline_style(self, client, alice, report):
        client.force_login(alice)
        html = self.get(client, reverse("reports:report_detail", args=[report.pk])).content
        # vision's one GPU-hour beside llm's eight (see the usage fixture).
        assert b'<rect class="bar" width="12.5%"' in html
        assert b'<rect class="bar" width="100.0%"' in html
