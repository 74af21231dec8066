// The campaign page's charts, drawn with the Chart.js the project serves (no CDN). The figures come from the
// page itself (a json_script element written by the server); without it (the add page) nothing is drawn.
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("campaign-charts-data");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var palette = ["#417690", "#79aec8", "#e0b252", "#ba2121", "#5b9f46", "#8a6bbf", "#c46a2f", "#6c757d",
                   "#2f8f9d", "#d4739b"];
    window.campaignCharts = {
      outcomes: new window.Chart(document.getElementById("chart-outcomes"), {
        type: "doughnut",
        data: {
          labels: data.outcomes.labels,
          datasets: [{ data: data.outcomes.counts, backgroundColor: palette }]
        },
        options: { plugins: { legend: { position: "right" } }, animation: false }
      }),
      callsPerHour: new window.Chart(document.getElementById("chart-calls-per-hour"), {
        type: "bar",
        data: {
          labels: data.hours.labels,
          datasets: [
            { label: data.words.placed, data: data.hours.placed, backgroundColor: "#79aec8" },
            { label: data.words.connected, data: data.hours.connected, backgroundColor: "#417690" }
          ]
        },
        options: { animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      }),
      connectRate: new window.Chart(document.getElementById("chart-connect-rate"), {
        type: "line",
        data: {
          labels: data.hours.labels,
          datasets: [{ label: data.words.connect_rate, data: data.hours.connect_rate, borderColor: "#5b9f46",
                       spanGaps: true }]
        },
        options: { animation: false, scales: { y: { min: 0, max: 100 } } }
      })
    };
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
