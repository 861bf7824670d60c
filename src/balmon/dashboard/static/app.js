// Charts from data-series attributes (no inline scripts: the CSP forbids them), and confirms.
(function () {
  "use strict";
  var palette = ["#d92d20", "#f79009", "#1d4ed8", "#039855", "#7a5af8", "#dd2590", "#0e9384", "#667085", "#b54708", "#344054"];

  function draw(canvas) {
    var rows = JSON.parse(canvas.getAttribute("data-series") || "[]");
    // Every period of the window comes from the server, so quiet days show as zero, and
    // each code has the same colour on every chart.
    var periods = JSON.parse(canvas.getAttribute("data-periods") || "[]");
    var colours = JSON.parse(canvas.getAttribute("data-colours") || "{}");
    var codes = [];
    rows.forEach(function (r) {
      if (periods.indexOf(r.period) < 0) periods.push(r.period);
      if (codes.indexOf(r.code) < 0) codes.push(r.code);
    });
    periods.sort();
    codes.sort();
    var datasets = codes.map(function (code, i) {
      var values = periods.map(function (p) {
        var hit = rows.find(function (r) { return r.period === p && r.code === code; });
        return hit ? hit.count : 0;
      });
      return { label: code, data: values, backgroundColor: colours[code] || palette[i % palette.length] };
    });
    canvas.setAttribute("data-drawn-periods", String(periods.length));
    if (!window.Chart) return;
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: periods, datasets: datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
                 scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
    });
  }

  document.querySelectorAll("canvas[data-series]").forEach(draw);
  // Drafts: what an operator types in a form survives a lapsed session and the login in
  // between. A draft is kept per page and form, and dropped once its page no longer shows
  // the form (the work was done).
  var DRAFTS = "balmon-drafts";
  function drafts() {
    try { return JSON.parse(window.sessionStorage.getItem(DRAFTS) || "{}"); } catch (e) { return {}; }
  }
  function keep(all) { window.sessionStorage.setItem(DRAFTS, JSON.stringify(all)); }
  var saved = drafts();
  var here = window.location.pathname + window.location.search;
  var present = {};
  document.querySelectorAll("form[method=post] textarea[name]").forEach(function (field) {
    var key = here + " " + field.form.getAttribute("action") + " " + field.name;
    present[key] = true;
    if (!field.value && saved[key]) field.value = saved[key].text;
    field.addEventListener("input", function () {
      var all = drafts();
      all[key] = { page: here, text: field.value };
      keep(all);
    });
  });
  Object.keys(saved).forEach(function (key) {
    if (saved[key].page === here && !present[key]) delete saved[key];
  });
  keep(saved);

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();
