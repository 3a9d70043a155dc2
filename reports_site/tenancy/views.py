from urllib.parse import urlsplit

from django.contrib.auth import views as auth_views


class LoginView(auth_views.LoginView):
    """Django's login page; a logged-in user goes on to `next`, or home when `next` is this
    page itself (Django would call that a redirect loop and fail)."""

    redirect_authenticated_user = True

    def get_redirect_url(self) -> str:
        url = super().get_redirect_url()
        return "" if url and urlsplit(url).path == self.request.path else url
