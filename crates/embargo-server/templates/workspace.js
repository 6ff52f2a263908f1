// The advisory workspace's small helpers; every action also works without them.
// - Links with data-dialog open the named <dialog> (the confirmation) instead of the
//   confirmation page; buttons with data-close-dialog close it.
// - On the draft form, "Add another package/credit" adds an empty row here instead of
//   sending the form.
(function () {
  "use strict";
  document.querySelectorAll("a[data-dialog]").forEach(function (link) {
    var dialog = document.getElementById(link.getAttribute("data-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") { return; }
    link.addEventListener("click", function (event) {
      event.preventDefault();
      dialog.showModal();
      var first = dialog.querySelector("input:not([type=hidden]), select, textarea, button[type=submit]");
      if (first) { first.focus(); }
    });
  });
  document.querySelectorAll("dialog [data-close-dialog]").forEach(function (button) {
    button.addEventListener("click", function () { button.closest("dialog").close(); });
  });

  document.querySelectorAll("fieldset[data-rows]").forEach(function (set) {
    var kind = set.getAttribute("data-rows");
    var add = set.querySelector("button[name=add]");
    if (!add) { return; }
    add.addEventListener("click", function (event) {
      var rows = set.querySelectorAll("." + kind + "-row");
      var last = rows[rows.length - 1];
      if (!last) { return; }
      event.preventDefault();
      var row = last.cloneNode(true);
      row.id = "field-" + kind + "." + rows.length;
      row.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
      row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      row.querySelectorAll("select").forEach(function (select) {
        select.selectedIndex = 0;
        // An ecosystem kept only because the row held it is not offered again.
        if (select.name === "ecosystem" && select.options[1] && select.options[1].defaultSelected) {
          select.remove(1);
        }
      });
      row.querySelectorAll("[aria-invalid]").forEach(function (e) {
        e.removeAttribute("aria-invalid");
        e.removeAttribute("aria-describedby");
      });
      last.after(row);
      var first = row.querySelector("select, input");
      if (first) { first.focus(); }
    });
  });
})();
