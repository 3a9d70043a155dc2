"""Every API error as Run:ai writes it: {"code": N, "message": "..."}."""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "Conflict."


def as_sent(invalid: ValidationError, body) -> exceptions.ValidationError:
    """A model's errors (by field) as the API's 400: each under the name the client sent, the
    field of the serializer `body` whose source it is."""
    sent_as = {field.source: name for name, field in body.fields.items()}
    return exceptions.ValidationError(
        {sent_as.get(field, field): errors for field, errors in invalid.message_dict.items()}
    )


def error_response(status: int, message: str, headers: dict | None = None) -> Response:
    return Response({"code": status, "message": message}, status=status, headers=headers)


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500
    return error_response(response.status_code, _message(response.data), _headers(response))


def _message(detail) -> str:
    """DRF's detail (a string, a list, or a dict by field) as one sentence or a few."""
    if isinstance(detail, dict):
        if set(detail) == {"detail"}:
            return _message(detail["detail"])
        return " ".join(
            f"{field}: {_message(value)}" if field != "non_field_errors" else _message(value)
            for field, value in detail.items()
        )
    if isinstance(detail, list):
        return " ".join(_message(item) for item in detail)
    return str(detail)


def _headers(response) -> dict:
    return {
        name: response[name] for name in ("WWW-Authenticate", "Retry-After") if name in response
    }


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": 404, "message": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": 500, "message": "Something went wrong."}, status=500)
    return defaults.server_error(request)
