/* The pricing lab's charts: every <canvas data-lab-chart="ID"> is drawn with the vendored
   Chart.js from the JSON of <script id="ID" type="application/json"> (Django's
   json_script): {"labels", "values", "label", "markers": {"P20": x, ...}}. Bars whose
   range holds a percentile are darker and the legend names the percentiles, so the
   light/median/heavy/tail users can be found on the distribution. A drawn canvas gets
   data-rendered="true" (the browser tests wait on it). No inline script on the pages. */
(function () {
  "use strict";

  function binOf(labels, value) {
    // Labels read "low–high"; a value falls in the first bin whose high reaches it.
    for (var i = 0; i < labels.length; i++) {
      var high = parseFloat(String(labels[i]).split("–")[1].replace(/,/g, ""));
      if (value <= high) { return i; }
    }
    return labels.length - 1;
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.labChart);
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var marked = {};
    Object.keys(data.markers || {}).forEach(function (name) {
      var bin = binOf(data.labels, data.markers[name]);
      marked[bin] = (marked[bin] ? marked[bin] + ", " : "") + name;
    });
    var colors = data.values.map(function (_, i) { return marked[i] ? "#205067" : "#79aec8"; });
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels,
              datasets: [{ label: data.label, data: data.values, backgroundColor: colors }] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: {
          legend: { display: true },
          tooltip: { callbacks: { footer: function (items) {
            var names = marked[items[0].dataIndex];
            return names ? "Holds " + names : "";
          } } }
        },
        scales: { x: { ticks: { autoSkip: true, maxRotation: 60 } },
                  y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
    canvas.dataset.rendered = "true";
  }

  function start() {
    document.querySelectorAll("canvas[data-lab-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
