// CVSS calculator for the draft form: one picker per base metric, named in words, and the
// score Embargo computes. It starts from the vectors already in the text field and changes
// only the metric picked, so the rest of a saved vector (and any temporal or environmental
// metrics) stays as it was. Without JavaScript the text field works on its own.
(function () {
  "use strict";
  var box = document.getElementById("cvss-calculator");
  var field = document.querySelector("textarea[name=cvss_vector]");
  if (!box || !field) { return; }
  var vector = ["Attack Vector", [["N", "Network"], ["A", "Adjacent"], ["L", "Local"], ["P", "Physical"]]];
  var complexity = ["Attack Complexity", [["L", "Low"], ["H", "High"]]];
  var privileges = ["Privileges Required", [["N", "None"], ["L", "Low"], ["H", "High"]]];
  var impact = [["H", "High"], ["L", "Low"], ["N", "None"]];
  var versions = [
    {
      version: "3.1", prefix: "CVSS:3.", metrics: [
        ["AV"].concat(vector), ["AC"].concat(complexity), ["PR"].concat(privileges),
        ["UI", "User Interaction", [["N", "None"], ["R", "Required"]]],
        ["S", "Scope", [["U", "Unchanged"], ["C", "Changed"]]],
        ["C", "Confidentiality", impact], ["I", "Integrity", impact], ["A", "Availability", impact]
      ]
    },
    {
      version: "4.0", prefix: "CVSS:4.", metrics: [
        ["AV"].concat(vector), ["AC"].concat(complexity),
        ["AT", "Attack Requirements", [["N", "None"], ["P", "Present"]]],
        ["PR"].concat(privileges),
        ["UI", "User Interaction", [["N", "None"], ["P", "Passive"], ["A", "Active"]]],
        ["VC", "Confidentiality (vulnerable system)", impact],
        ["VI", "Integrity (vulnerable system)", impact],
        ["VA", "Availability (vulnerable system)", impact],
        ["SC", "Confidentiality (subsequent systems)", impact],
        ["SI", "Integrity (subsequent systems)", impact],
        ["SA", "Availability (subsequent systems)", impact]
      ]
    }
  ];

  // The field's line holding this version's vector: its index, or -1.
  function lineOf(v, lines) {
    for (var i = 0; i < lines.length; i++) {
      if (lines[i].trim().indexOf(v.prefix) === 0) { return i; }
    }
    return -1;
  }

  function selects(v) {
    return box.querySelectorAll("select[data-version='" + v.version + "']");
  }

  // Sets the pickers to the field's vector; a metric it lacks shows "Choose…".
  function load(v) {
    var lines = field.value.split("\n");
    var at = lineOf(v, lines);
    var saved = {};
    if (at >= 0) {
      lines[at].trim().split("/").slice(1).forEach(function (part) {
        var kv = part.split(":");
        if (kv.length === 2 && !(kv[0] in saved)) { saved[kv[0]] = kv[1]; }
      });
    }
    selects(v).forEach(function (s) {
      var value = saved[s.dataset.metric];
      var known = Array.prototype.some.call(s.options, function (o) { return o.value === value; });
      s.value = known ? value : "";
    });
    show(v, at >= 0 ? lines[at].trim() : "");
  }

  // Writes the pickers into the field: in place on the version's line, replacing only the
  // base metrics' values; a new line when there was none.
  function store(v) {
    var chosen = {};
    var missing = false;
    selects(v).forEach(function (s) {
      chosen[s.dataset.metric] = s.value;
      if (!s.value) { missing = true; }
    });
    if (missing) {
      v.output.textContent = "Choose every metric for a CVSS " + v.version + " score.";
      return;
    }
    var lines = field.value.split("\n");
    var at = lineOf(v, lines);
    var parts = at >= 0 ? lines[at].trim().split("/") : ["CVSS:" + v.version];
    var base = v.metrics.map(function (m) { return m[0]; });
    var seen = {};
    parts = parts.map(function (part, i) {
      var kv = part.split(":");
      if (i > 0 && kv.length === 2 && base.indexOf(kv[0]) >= 0) {
        seen[kv[0]] = true;
        return kv[0] + ":" + chosen[kv[0]];
      }
      return part;
    });
    if (base.some(function (m) { return !seen[m]; })) {
      // An incomplete line: rebuilt in the standard order, other metrics kept after it.
      var rest = parts.slice(1).filter(function (part) { return base.indexOf(part.split(":")[0]) < 0; });
      parts = [parts[0]].concat(base.map(function (m) { return m + ":" + chosen[m]; }), rest);
    }
    var line = parts.join("/");
    if (at >= 0) {
      lines[at] = line;
    } else {
      lines = lines.filter(function (l) { return l.trim(); });
      lines.push(line);
    }
    field.value = lines.join("\n");
    show(v, line);
  }

  // Shows the score of `vector`, as Embargo computes it; answers to older requests are dropped.
  function show(v, vector) {
    var asked = ++v.asked;
    if (!vector) {
      v.output.textContent = "No CVSS " + v.version + " vector yet: choose every metric for one.";
      return;
    }
    v.output.textContent = "Scoring…";
    fetch("/cvss/score?vector=" + encodeURIComponent(vector))
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (asked !== v.asked) { return; }
        v.output.textContent = j.error
          ? j.error.message
          : "CVSS " + j.version + " base score: " + j.base_score.toFixed(1) + " " + j.severity;
      })
      .catch(function () {
        if (asked === v.asked) { v.output.textContent = "The score could not be computed just now."; }
      });
  }

  versions.forEach(function (v) {
    var group = document.createElement("div");
    group.className = "cvss-version";
    var title = document.createElement("strong");
    title.textContent = "CVSS " + v.version;
    group.appendChild(title);
    var row = document.createElement("div");
    row.className = "row";
    v.metrics.forEach(function (m) {
      var label = document.createElement("label");
      label.appendChild(document.createTextNode(m[1]));
      var select = document.createElement("select");
      select.dataset.version = v.version;
      select.dataset.metric = m[0];
      select.title = m[0];
      var none = document.createElement("option");
      none.value = ""; none.textContent = "Choose…";
      select.appendChild(none);
      m[2].forEach(function (o) {
        var option = document.createElement("option");
        option.value = o[0]; option.textContent = o[1];
        select.appendChild(option);
      });
      select.addEventListener("change", function () { store(v); });
      label.appendChild(select);
      row.appendChild(label);
    });
    group.appendChild(row);
    v.output = document.createElement("output");
    v.output.dataset.version = v.version;
    v.output.setAttribute("aria-live", "polite");
    group.appendChild(v.output);
    v.asked = 0;
    box.appendChild(group);
  });
  box.hidden = false;

  // Typing in the field moves the pickers along, once the typing pauses.
  var typing = null;
  field.addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(function () { versions.forEach(load); }, 400);
  });
  versions.forEach(load);
})();
