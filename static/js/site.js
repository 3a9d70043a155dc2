// The Reports table's small behaviours. Everything works without this file; it only makes the
// page quicker to use: select all, actions enabled by the selection, the delete dialog.
(function () {
  "use strict";

  function selected() {
    return Array.from(document.querySelectorAll("input.row-select:checked"));
  }

  function updateActions() {
    const remove = document.getElementById("delete-selected");
    if (!remove) return;
    const boxes = selected();
    const rows = boxes.map((box) => box.closest("tr"));
    const allReady = rows.length > 0 && rows.every((row) => row.dataset.status === "Ready");
    document.querySelectorAll("button[data-download]").forEach((download) => {
      download.disabled = !allReady;
      download.title = rows.length && !allReady ? "Only Ready reports can be downloaded" : "";
    });
    remove.disabled = rows.length === 0;
    const again = document.getElementById("run-again-selected");
    if (again) again.disabled = rows.length === 0;
    const duplicate = document.getElementById("duplicate-selected");
    if (duplicate) duplicate.disabled = rows.length !== 1;
    const count = document.getElementById("selection-count");
    if (count) {
      count.textContent = rows.length === 0 ? "No report selected"
        : rows.length === 1 ? "1 report selected" : rows.length + " reports selected";
    }
    const all = document.getElementById("select-all");
    if (all) {
      const boxesOnPage = document.querySelectorAll("input.row-select");
      all.checked = boxesOnPage.length > 0 && boxes.length === boxesOnPage.length;
      all.indeterminate = boxes.length > 0 && boxes.length < boxesOnPage.length;
    }
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.id === "select-all") {
      document.querySelectorAll("input.row-select").forEach((box) => { box.checked = target.checked; });
    }
    if (target.matches("select[data-autosubmit]")) {
      target.form.requestSubmit();
    }
    updateActions();
  });

  document.addEventListener("DOMContentLoaded", updateActions);

  // A row that was polled and has settled (or was deleted elsewhere) updates the actions.
  document.addEventListener("htmx:afterSwap", function (event) {
    updateActions();
    const dialog = event.detail.target.querySelector("dialog");
    if (dialog) dialog.showModal();
  });

  // A polled row whose report is gone (deleted in another tab) leaves the table; a report's
  // page whose report is gone reloads, to say so.
  document.addEventListener("htmx:responseError", function (event) {
    if (!isGone(event.detail)) return;
    if (event.detail.elt.matches("tr")) event.detail.elt.remove();
    else window.location.reload();
  });

  // Escape closes an open menu (Add filter, Columns) and gives the focus back to its button.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const menu = document.querySelector("details.menu[open]");
    if (!menu) return;
    menu.querySelectorAll("details[open]").forEach((inner) => inner.removeAttribute("open"));
    menu.removeAttribute("open");
    menu.querySelector("summary").focus();
  });

  document.addEventListener("click", function (event) {
    if (event.target.matches("[data-close-dialog]")) {
      event.target.closest("dialog").close();
    }
  });
})();

// Two error answers are the page's to show, not errors: the delete dialog telling why nothing was
// deleted (403), and a polled row or status whose report is gone (404).
function isRefusedDelete(detail) {
  return detail.xhr.status === 403 && detail.target.id === "dialog-slot";
}

function isGone(detail) {
  return detail.xhr.status === 404 && detail.elt.matches("tr[hx-get], #report-status[hx-get]");
}

// The delete dialog tells why nothing was deleted: let htmx show that answer.
document.addEventListener("htmx:beforeSwap", function (event) {
  if (isRefusedDelete(event.detail)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// With DEBUG on, django-htmx's debug handler replaces the whole page with any 403 or 404 answer
// to htmx (it listens on the document). These two never reach it: this listener, on the window
// and in the capture phase, runs first. htmx itself goes on as in every other mode.
window.addEventListener(
  "htmx:beforeOnLoad",
  function (event) {
    if (isRefusedDelete(event.detail) || isGone(event.detail)) event.stopPropagation();
  },
  true,
);

// The new-report form: a quick period fills in both dates, and a list's search box shows only
// the choices that contain what is typed (the ticked ones stay ticked).
document.addEventListener("click", function (event) {
  const preset = event.target.closest("[data-preset-start]");
  if (!preset) return;
  document.getElementById("id_start_date").value = preset.dataset.presetStart;
  document.getElementById("id_end_date").value = preset.dataset.presetEnd;
});

document.addEventListener("input", function (event) {
  const search = event.target;
  if (!search.matches("[data-filter-list]")) return;
  const wanted = search.value.trim().toLowerCase();
  document.getElementById(search.dataset.filterList).querySelectorAll("label").forEach((label) => {
    label.parentElement.hidden = !label.textContent.toLowerCase().includes(wanted);
  });
});

// The schedule form: the weekday and the day of the month show only for the frequency that uses
// them (the server ignores them for the others).
const RECURRENCE_FIELDS = { id_weekday: "weekly", id_day_of_month: "monthly" };

function showRecurrenceFields() {
  const frequency = document.querySelector("#schedule-form #id_frequency");
  if (!frequency) return;
  for (const [id, usedBy] of Object.entries(RECURRENCE_FIELDS)) {
    const input = document.getElementById(id);
    if (input) input.closest(".field").hidden = frequency.value !== usedBy;
  }
}

document.addEventListener("DOMContentLoaded", showRecurrenceFields);
document.addEventListener("change", function (event) {
  if (event.target.id === "id_frequency") showRecurrenceFields();
});

// A schedule's new delivery target: the field of each kind shows only for that kind (the model
// empties the others).
const TARGET_FIELDS = { id_recipients: "email", id_url: "webhook", id_prefix: "storage" };

function showTargetFields() {
  const kind = document.querySelector("#target-form #id_kind");
  if (!kind) return;
  for (const [id, usedBy] of Object.entries(TARGET_FIELDS)) {
    const input = document.getElementById(id);
    if (input) input.closest(".field").hidden = kind.value !== usedBy;
  }
}

document.addEventListener("DOMContentLoaded", showTargetFields);
document.addEventListener("change", function (event) {
  if (event.target.closest("#target-form") && event.target.id === "id_kind") showTargetFields();
});
