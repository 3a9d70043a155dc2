"""The Content-Security-Policy in a real browser: the pages, htmx and Swagger UI work under it,
and Chromium reports no violation and no console error."""

import pytest
from playwright.sync_api import Page, expect

from reports.services import create_report
from tests.browser.conftest import log_in
from tests.reports.conftest import MARCH, ready_report

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Runs in every document before its own scripts; a binding reaches Python whatever the policy.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} ` +
    `at ${event.sourceFile}:${event.lineNumber} on ${document.location.pathname}`
  );
});
"""


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Policy violations, console errors, uncaught exceptions and failed requests, on any page
    the test opens."""
    found: list[str] = []

    def on_console(message):
        if message.type == "error":
            found.append(f"console: {message.text} at {message.location['url']}")

    def on_response(response):
        if response.status >= 400:
            found.append(f"{response.status}: {response.url}")

    page.expose_function("cspViolation", lambda text: found.append(f"violation: {text}"))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"exception: {error}"))
    page.on("response", on_response)
    return found


@pytest.fixture
def reports(viewer, usage, no_queue):
    return {
        "ready": ready_report(viewer, "Ready one", group_by="Project"),
        "pending": create_report(viewer, name="Pending one", start=MARCH[0], end=MARCH[1]),
    }


def row(page: Page, name: str):
    return page.locator("#reports-table tbody tr").filter(has=page.get_by_role("link", name=name))


class TestContentSecurityPolicyInABrowser:
    def test_the_pages_htmx_and_the_api_docs_work_under_the_policy(
        self, page, problems, viewer, reports
    ):
        log_in(page, viewer.email)

        # htmx polls the Pending row (and swaps it in) under the policy.
        with page.expect_response(lambda response: "/row/" in response.url) as polled:
            pass
        assert polled.value.ok
        expect(row(page, "Pending one").locator(".badge")).to_have_text("Pending")

        # htmx posts the selection and opens the delete dialog it gets back.
        row(page, "Pending one").get_by_role("checkbox").check()
        page.get_by_role("button", name="Delete…").click()
        dialog = page.get_by_role("dialog", name="Delete reports")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()

        page.get_by_role("link", name="+ New report").click()
        expect(page.get_by_label("Name")).to_be_visible()

        page.goto(f"/analytics/reports/{reports['ready'].pk}/")
        expect(page.locator(".chart rect.bar")).to_have_count(4)
        # The widest bar fills its track: the width attribute sizes it, no inline style.
        track, bar = (
            page.locator(".chart .bar-track").first.bounding_box(),
            page.locator(".chart rect.bar").first.bounding_box(),
        )
        assert track["width"] > 0 and abs(bar["width"] - track["width"]) < 1

        # Swagger UI renders the API's operations from the served document, and opens one.
        page.goto("/api/docs/")
        operation = page.locator("[id$='-list_reports']")
        expect(operation).to_be_visible()
        operation.locator(".opblock-summary").first.click()
        expect(operation.get_by_text("Try it out")).to_be_visible()

        assert problems == []
