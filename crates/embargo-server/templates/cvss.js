// CVSS calculator for the draft form: metric pickers build a vector into the text field and
// show Embargo's score for it. Without JavaScript the text field works on its own.
(function () {
  "use strict";
  var box = document.getElementById("cvss-calculator");
  var field = document.querySelector("textarea[name=cvss_vector]");
  if (!box || !field) { return; }
  var metrics = {
    "3.1": [["AV", ["N", "A", "L", "P"]], ["AC", ["L", "H"]], ["PR", ["N", "L", "H"]], ["UI", ["N", "R"]],
            ["S", ["U", "C"]], ["C", ["H", "L", "N"]], ["I", ["H", "L", "N"]], ["A", ["H", "L", "N"]]],
    "4.0": [["AV", ["N", "A", "L", "P"]], ["AC", ["L", "H"]], ["AT", ["N", "P"]], ["PR", ["N", "L", "H"]],
            ["UI", ["N", "P", "A"]], ["VC", ["H", "L", "N"]], ["VI", ["H", "L", "N"]], ["VA", ["H", "L", "N"]],
            ["SC", ["H", "L", "N"]], ["SI", ["H", "L", "N"]], ["SA", ["H", "L", "N"]]]
  };
  var out = document.createElement("output");
  box.hidden = false;
  Object.keys(metrics).forEach(function (version) {
    var row = document.createElement("div");
    row.className = "row";
    var title = document.createElement("strong");
    title.textContent = "CVSS " + version + " ";
    row.appendChild(title);
    metrics[version].forEach(function (m) {
      var label = document.createElement("label");
      label.textContent = m[0] + " ";
      var select = document.createElement("select");
      select.dataset.version = version;
      select.dataset.metric = m[0];
      m[1].forEach(function (v) {
        var o = document.createElement("option");
        o.value = v; o.textContent = v;
        select.appendChild(o);
      });
      select.addEventListener("change", function () { build(version); });
      label.appendChild(select);
      row.appendChild(label);
    });
    box.appendChild(row);
  });
  box.appendChild(out);
  function build(version) {
    var parts = ["CVSS:" + version];
    box.querySelectorAll("select[data-version='" + version + "']").forEach(function (s) {
      parts.push(s.dataset.metric + ":" + s.value);
    });
    var vector = parts.join("/");
    var lines = field.value.split("\n").filter(function (l) { return l.trim() && l.indexOf("CVSS:" + version.charAt(0)) !== 0; });
    lines.push(vector);
    field.value = lines.join("\n");
    fetch("/cvss/score?vector=" + encodeURIComponent(vector)).then(function (r) { return r.json(); }).then(function (j) {
      out.textContent = j.error ? j.error.message : vector + " scores " + j.base_score.toFixed(1) + " (" + j.severity + ")";
    });
  }
})();
