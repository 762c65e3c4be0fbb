/* Ops charts: every <canvas data-chart="ID" data-kind="bar|doughnut"> is drawn with the
   vendored Chart.js from the JSON of <script id="ID" type="application/json"> (Django's
   json_script), so the pages carry no inline script. A drawn canvas gets
   data-rendered="true" (the browser tests wait on it). */
(function () {
  "use strict";
  var palette = ["#417690", "#79aec8", "#ba2121", "#e0a800", "#5b8c5a", "#8a6fb3",
                 "#c06c84", "#6c757d", "#20c997", "#fd7e14", "#343a40", "#adb5bd"];

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var kind = canvas.dataset.kind || "bar";
    var colors = data.values.map(function (value, i) {
      if (kind === "bar") { return value < 0 ? "#ba2121" : "#417690"; }
      return palette[i % palette.length];
    });
    new Chart(canvas, {
      type: kind,
      data: {
        labels: data.labels,
        datasets: [{ label: data.label, data: data.values, backgroundColor: colors }]
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: kind !== "bar" } },
        scales: kind === "bar" ? { x: { ticks: { autoSkip: true, maxRotation: 60 } } } : {}
      }
    });
    canvas.dataset.rendered = "true";
  }

  function start() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
