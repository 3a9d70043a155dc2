"""Browser tests: Playwright driving Debian's Chromium against a live test server.

`make test` installs Chromium when it can; when the browser is missing these tests fail, saying
why, unless SKIP_BROWSER_TESTS=1 leaves them out (see the Makefile)."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import Page, sync_playwright

from tests.factories import TEST_PASSWORD

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def chromium(django_db_setup):
    """One browser per test module.

    While it runs, Playwright's event loop is current in this thread, which changes two things:
    - Django guards the ORM against async use; the tests' ORM calls are synchronous and safe,
      so Django is told so, for this module only (the deploy check must not see that setting).
    - Django keeps other connection objects while a loop is current. They are given the test
      data serialized when the database was set up, so that serialized_rollback still works.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}, so the browser tests cannot run. "
            "`make test` installs Debian's chromium package when it can; "
            "SKIP_BROWSER_TESTS=1 leaves these tests out.",
            pytrace=False,
        )
    serialized = {
        connection.alias: connection._test_serialized_contents
        for connection in connections.all()
        if hasattr(connection, "_test_serialized_contents")
    }
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        for alias, contents in serialized.items():
            connections[alias]._test_serialized_contents = contents
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server) -> Page:
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    # Anything fetched from outside the server is a failure: every asset is served locally.
    outside = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(live_server.url) else None
        ),
    )
    yield page
    context.close()
    assert outside == [], f"requests left the server: {outside}"


def log_in(page: Page, email: str, password: str = TEST_PASSWORD) -> None:
    page.goto("/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/analytics/reports/")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
