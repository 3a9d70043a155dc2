"""What a logged-in user can send the pages that they do not expect: it is refused in words,
never a server error."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.reports.conftest import ready_report

LIST = reverse("reports:report_list")

pytestmark = [pytest.mark.usefixtures("no_queue"), pytest.mark.django_db]


@pytest.fixture
def browser(viewer):
    """alice, logged in; a server error comes back as a response, not as an exception."""
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    return client


@pytest.fixture
def march(viewer, usage):
    return ready_report(viewer, "March GPUs")


class TestListPageSize:
    @pytest.mark.parametrize("size", ["-1", "-25", "0", "101", "1000000"])
    def test_a_page_size_out_of_range_gives_the_default(self, browser, march, size):
        response = browser.get(LIST, {"per_page": size})
        assert response.status_code == 200
        assert response.context["table"].paginator.per_page == 25
        assert "March GPUs" in response.content.decode()
