// The Reports table's small behaviours. Everything works without this file; it only makes the
// page quicker to use: select all, actions enabled by the selection, the delete dialog.
(function () {
  "use strict";

  function selected() {
    return Array.from(document.querySelectorAll("input.row-select:checked"));
  }

  function updateActions() {
    const download = document.getElementById("download-selected");
    const remove = document.getElementById("delete-selected");
    if (!download || !remove) return;
    const boxes = selected();
    const rows = boxes.map((box) => box.closest("tr"));
    const allReady = rows.length > 0 && rows.every((row) => row.dataset.status === "Ready");
    download.disabled = !allReady;
    download.title = rows.length && !allReady ? "Only Ready reports can be downloaded" : "";
    remove.disabled = rows.length === 0;
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

  // A polled row whose report is gone (deleted in another tab) leaves the table.
  document.addEventListener("htmx:responseError", function (event) {
    const row = event.detail.elt;
    if (event.detail.xhr.status === 404 && row.matches("tr[hx-get]")) row.remove();
  });

  document.addEventListener("click", function (event) {
    if (event.target.matches("[data-close-dialog]")) {
      event.target.closest("dialog").close();
    }
  });
})();

// The delete dialog also tells why nothing was deleted (403): let htmx show that answer.
document.addEventListener("htmx:beforeSwap", function (event) {
  if (event.detail.xhr.status === 403 && event.detail.target.id === "dialog-slot") {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
