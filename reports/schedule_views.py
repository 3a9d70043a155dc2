"""The Schedules page beside Reports (issue 16): the schedules a user may see, the form that
makes or changes one with a preview of its next runs, its page with its delivery targets and
the history of its runs with their deliveries, and its actions (pause, resume, run now, delete;
add, enable, disable and delete a target, rotate a webhook's secret)."""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import services
from .forms import RECURRENCE_FIELDS, DeliveryTargetForm, ReportScheduleForm
from .models import DeliveryTarget, ReportSchedule, RunStatus, validate_name_template
from .recurrence import Period
from .scheduling import run_now
from .tables import ReportScheduleTable

# The next runs shown in the form's preview and on a schedule's page.
PREVIEW_RUNS = 5
RUNS_PER_PAGE = 25


@login_required
@require_GET
def schedule_list(request: HttpRequest) -> HttpResponse:
    """The schedules the user may see, by name, with when each runs next and how it ran last."""
    schedules = ReportSchedule.objects.permitted(request.user, "read").with_last_run()
    table = ReportScheduleTable(schedules.order_by("name_key", "pk"))
    return render(request, "reports/schedule_list.html", {"table": table})


@login_required
@require_http_methods(["GET", "POST"])
def schedule_create(request: HttpRequest) -> HttpResponse:
    """+ New schedule: owned by the user, whose permissions its reports are made with."""
    return _edit(request, services.new_schedule(request.user))


@login_required
@require_http_methods(["GET", "POST"])
def schedule_edit(request: HttpRequest, schedule_id) -> HttpResponse:
    return _edit(request, _get_schedule_for_user(request, schedule_id, "change"))


def _edit(request: HttpRequest, schedule: ReportSchedule) -> HttpResponse:
    """The form of a new or existing schedule; on a valid POST the schedule, saved, and its
    page. The model's errors show beside their fields, with what was typed."""
    new = schedule._state.adding
    initial = ReportScheduleForm.initial_from(schedule)
    form = ReportScheduleForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        form.apply_to(schedule)
        try:
            services.save_schedule(schedule)
        except ValidationError as invalid:
            form.add_service_errors(invalid.message_dict)
        else:
            messages.success(
                request, f"Schedule {schedule.name!r} {'created' if new else 'saved'}."
            )
            return redirect("schedules:schedule_detail", schedule.pk)
    context = {"form": form, "schedule": schedule, "new": new, "preview": _preview(form, schedule)}
    return render(
        request, "reports/schedule_form.html", context, status=400 if form.errors else 200
    )


@login_required
@require_GET
def schedule_preview(request: HttpRequest, schedule_id=None) -> HttpResponse:
    """The next runs of the schedule as the form's fields (sent as the query) describe it,
    asked for by the form as it changes."""
    if schedule_id is None:
        schedule = services.new_schedule(request.user)
    else:
        schedule = _get_schedule_for_user(request, schedule_id, "change")
    form = ReportScheduleForm(request.GET, user=request.user)
    return render(request, "reports/_schedule_preview.html", {"preview": _preview(form, schedule)})


@dataclass(frozen=True)
class Preview:
    """The next runs of a schedule: each period with its due time and its report's name (None
    while the name's fields have errors); or, while its recurrence has errors, those."""

    runs: list[tuple[Period, str | None]]
    problems: list[str]
    time_zone: str = "UTC"


def _preview(form: ReportScheduleForm, schedule: ReportSchedule) -> Preview:
    """What the schedule would do with the form's valid fields (the saved ones where the form
    is not filled in yet), before anything is saved."""
    if form.is_bound:
        form.is_valid()
        form.apply_to(schedule)
    problems = _recurrence_problems(schedule)
    if problems:
        return Preview([], problems)
    if form.is_bound and any(field in form.errors for field in RECURRENCE_FIELDS):
        return Preview([], ["Correct the recurrence's fields to see its next runs."])
    return _next_runs(schedule)


def _next_runs(schedule: ReportSchedule) -> Preview:
    periods = schedule.upcoming(timezone.now(), PREVIEW_RUNS)
    runs = [(period, _report_name(schedule, period)) for period in periods]
    return Preview(runs, [], schedule.schedule_time_zone)


def _recurrence_problems(schedule: ReportSchedule) -> list[str]:
    """What the model finds wrong with the schedule's recurrence (its other fields aside)."""
    others = [f.name for f in ReportSchedule._meta.fields if f.name not in RECURRENCE_FIELDS]
    problems = []
    for check in (lambda: schedule.clean_fields(exclude=others), schedule.clean):
        try:
            check()
        except ValidationError as invalid:
            problems += [
                message
                for field, messages in invalid.message_dict.items()
                if field in RECURRENCE_FIELDS
                for message in messages
            ]
    return problems


def _report_name(schedule: ReportSchedule, period: Period) -> str | None:
    try:
        validate_name_template(schedule.name_template)
    except ValidationError:
        return None
    return schedule.report_name(period) if schedule.name else None


@login_required
@require_GET
def schedule_detail(request: HttpRequest, schedule_id) -> HttpResponse:
    """A schedule's settings, its next runs, its delivery targets, and the history of its runs
    with their deliveries, latest first."""
    schedule = _get_schedule_for_user(request, schedule_id, "read")
    return _detail(request, schedule, DeliveryTargetForm())


def _detail(
    request: HttpRequest, schedule: ReportSchedule, target_form: DeliveryTargetForm
) -> HttpResponse:
    """The schedule's page, with this form for a new target (with its errors, if any)."""
    page = Paginator(schedule.history(), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "schedule": schedule,
        "next_runs": None if schedule.paused else _next_runs(schedule),
        "may_change": services.may_change_schedule(request.user, schedule),
        "targets": schedule.targets.all(),
        "target_form": target_form,
        "page_obj": page,
        "paginator": page.paginator,
        "page_range": page.paginator.get_elided_page_range(page.number),
    }
    status = 400 if target_form.errors else 200
    return render(request, "reports/schedule_detail.html", context, status=status)


@login_required
@require_POST
def schedule_pause(request: HttpRequest, schedule_id) -> HttpResponse:
    schedule = _get_schedule_for_user(request, schedule_id, "change")
    services.pause_schedule(request.user, schedule)
    messages.success(request, f"Schedule {schedule.name!r} is paused.")
    return redirect("schedules:schedule_detail", schedule.pk)


@login_required
@require_POST
def schedule_resume(request: HttpRequest, schedule_id) -> HttpResponse:
    """Run again from now on: the periods that fell due while paused stay unmade."""
    schedule = _get_schedule_for_user(request, schedule_id, "change")
    services.resume_schedule(schedule)
    messages.success(request, f"Schedule {schedule.name!r} runs again.")
    return redirect("schedules:schedule_detail", schedule.pk)


@login_required
@require_POST
def schedule_run_now(request: HttpRequest, schedule_id) -> HttpResponse:
    """Make the report of the last complete period now (as the schedule's owner)."""
    schedule = _get_schedule_for_user(request, schedule_id, "change")
    run = run_now(schedule)
    if run.status == RunStatus.MADE:
        messages.success(request, f"Report {run.report.name!r} is in the queue.")
    else:
        messages.error(request, f"No report was made: {run.message}")
    return redirect("schedules:schedule_detail", schedule.pk)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_delete(request: HttpRequest, schedule_id) -> HttpResponse:
    """Delete a schedule once confirmed, with its history; the reports it made are kept."""
    schedule = _get_schedule_for_user(request, schedule_id, "change")
    if request.method == "GET":
        return render(request, "reports/schedule_delete.html", {"schedule": schedule})
    schedule.delete()
    messages.success(request, f"Deleted the schedule {schedule.name!r}; its reports are kept.")
    return redirect("schedules:schedule_list")


@login_required
@require_POST
def target_create(request: HttpRequest, schedule_id) -> HttpResponse:
    """Add a delivery target: the schedule's reports made from now on are sent there too. On
    errors, the schedule's page with them beside their fields and what was typed."""
    schedule = _get_schedule_for_user(request, schedule_id, "change")
    form = DeliveryTargetForm(request.POST, instance=DeliveryTarget(schedule=schedule))
    if not form.is_valid():
        return _detail(request, schedule, form)
    target = form.save()
    messages.success(request, f"Reports will be sent to {target}.")
    return redirect("schedules:schedule_detail", schedule.pk)


@login_required
@require_POST
def target_enable(request: HttpRequest, schedule_id, target_id: int) -> HttpResponse:
    return _set_enabled(request, _get_target_for_user(request, schedule_id, target_id), True)


@login_required
@require_POST
def target_disable(request: HttpRequest, schedule_id, target_id: int) -> HttpResponse:
    return _set_enabled(request, _get_target_for_user(request, schedule_id, target_id), False)


def _set_enabled(request: HttpRequest, target: DeliveryTarget, enabled: bool) -> HttpResponse:
    """Send, or stop sending, the reports made from now on to the target."""
    target.enabled = enabled
    target.save(update_fields=["enabled"])
    state = "will be sent" if enabled else "are no longer sent"
    messages.success(request, f"Reports {state} to {target}.")
    return redirect("schedules:schedule_detail", target.schedule_id)


@login_required
@require_POST
def target_rotate_secret(request: HttpRequest, schedule_id, target_id: int) -> HttpResponse:
    """A new secret for a webhook: its receiver needs it to check the signatures from now on."""
    target = _get_target_for_user(request, schedule_id, target_id)
    target.rotate_secret()
    messages.success(request, f"New secret for {target}: give it to its receiver.")
    return redirect("schedules:schedule_detail", target.schedule_id)


@login_required
@require_POST
def target_delete(request: HttpRequest, schedule_id, target_id: int) -> HttpResponse:
    """Delete a target with the record of its deliveries."""
    target = _get_target_for_user(request, schedule_id, target_id)
    target.delete()
    messages.success(request, f"Reports are no longer sent to {target}.")
    return redirect("schedules:schedule_detail", target.schedule_id)


def _get_target_for_user(request: HttpRequest, schedule_id, target_id: int) -> DeliveryTarget:
    """A target of a schedule the user may change; 404 for one of another schedule."""
    schedule = _get_schedule_for_user(request, schedule_id, "change")
    return get_object_or_404(schedule.targets, pk=target_id)


def _get_schedule_for_user(request: HttpRequest, schedule_id, action: str) -> ReportSchedule:
    """The schedule (services.schedule_for): 404 for one the user may not see, as for another
    tenant's; 403 for one the user sees but may not change."""
    try:
        return services.schedule_for(request.user, schedule_id, action)
    except ReportSchedule.DoesNotExist:
        raise Http404("No such schedule.") from None
