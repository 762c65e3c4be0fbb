/* The dashboard's daily usage charts: every <canvas data-series="N"> is drawn with the
   vendored Chart.js from series N of the JSON in <script id="usage-chart-data"> (Django's
   json_script), so the page needs no inline script (its Content-Security-Policy allows
   none). Bars: the day's usage; line: the running total, with the allowance and the pace
   to the period's end dashed. A drawn canvas gets data-rendered="true". */
(function () {
  "use strict";

  function datasets(series) {
    var sets = [{ type: "bar", label: series.name + " per day", data: series.daily,
                  backgroundColor: "#79aec8", yAxisID: "y", order: 3 }];
    if (series.cumulative) {
      sets.push({ type: "line", label: "Running total", data: series.cumulative,
                  borderColor: "#2456a6", backgroundColor: "#2456a6", pointRadius: 0,
                  borderWidth: 2, yAxisID: "total", order: 1 });
    }
    if (series.pace) {
      sets.push({ type: "line", label: "Pace to the period's end", data: series.pace,
                  borderColor: "#5b6672", borderDash: [4, 4], pointRadius: 0, borderWidth: 1,
                  yAxisID: "total", order: 2 });
    }
    if (series.allowance !== null && series.cumulative) {
      sets.push({ type: "line", label: "Allowance",
                  data: series.labels.map(function () { return series.allowance; }),
                  borderColor: "#b42318", borderDash: [6, 3], pointRadius: 0, borderWidth: 1.5,
                  yAxisID: "total", order: 0 });
    }
    return sets;
  }

  function draw(canvas, all) {
    var series = all[Number(canvas.dataset.series)];
    if (!series) { return; }
    var scales = {
      x: { ticks: { autoSkip: true, maxRotation: 0,
                    callback: function (value) { return this.getLabelForValue(value).slice(8); } } },
      y: { beginAtZero: true, position: "left", title: { display: true, text: "per day" } }
    };
    if (series.cumulative) {
      scales.total = { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                       title: { display: true, text: "running total" } };
    }
    new Chart(canvas, {
      data: { labels: series.labels, datasets: datasets(series) },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
                 interaction: { mode: "index", intersect: false },
                 plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
                 scales: scales }
    });
    canvas.dataset.rendered = "true";
  }

  function start() {
    var source = document.getElementById("usage-chart-data");
    if (!source || typeof Chart === "undefined") { return; }
    var all = JSON.parse(source.textContent).series;
    document.querySelectorAll("canvas[data-series]").forEach(function (canvas) {
      draw(canvas, all);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
