// The dashboard page: fetches /api/snapshot every refresh and redraws the tables and the charts.
// Every figure cell carries data-key/data-field, so a browser test can read exactly what is shown.
"use strict";

const fmt = {
  int: (v) => (v === null || v === undefined ? "-" : Math.round(v).toLocaleString("en-US")),
  dec: (v, digits = 2) => (v === null || v === undefined ? "-" : Number(v).toFixed(digits)),
  text: (v) => (v === null || v === undefined || v === "" ? "-" : String(v)),
  time: (epochS) => (epochS ? new Date(epochS * 1000).toISOString().slice(11, 19) + " UTC" : "-"),
};

function cell(row, value, { key, field, cls = "", raw } = {}) {
  const td = document.createElement("td");
  td.textContent = value;
  if (cls) td.className = cls;
  if (key !== undefined) td.dataset.key = key;
  if (field !== undefined) td.dataset.field = field;
  if (raw !== undefined && raw !== null) td.dataset.value = raw;
  row.appendChild(td);
  return td;
}

function fill(tableId, items, render) {
  const body = document.querySelector(`#${tableId} tbody`);
  const rows = items.map((item) => {
    const tr = document.createElement("tr");
    render(tr, item);
    return tr;
  });
  body.replaceChildren(...rows);
}

function renderTopics(topics) {
  fill("topics", topics, (tr, t) => {
    const k = t.topic;
    cell(tr, k);
    cell(tr, fmt.int(t.produced_per_s), { key: k, field: "produced_per_s", cls: "num", raw: t.produced_per_s });
    cell(tr, fmt.int(t.end_offset), { key: k, field: "end_offset", cls: "num", raw: t.end_offset });
    cell(tr, fmt.int(t.processed_offset), { key: k, field: "processed_offset", cls: "num", raw: t.processed_offset });
    cell(tr, fmt.int(t.lag), { key: k, field: "lag", cls: "num", raw: t.lag });
    cell(tr, fmt.dec(t.lag_s, 1), { key: k, field: "lag_s", cls: "num", raw: t.lag_s });
    cell(tr, fmt.int(t.dead_letters), { key: k, field: "dead_letters", cls: "num", raw: t.dead_letters });
  });
  fill("queries", topics, (tr, t) => {
    const k = t.topic;
    cell(tr, k);
    cell(tr, fmt.text(t.query_state), { key: k, field: "query_state", cls: t.query_health || "" });
    cell(tr, fmt.text(t.last_batch_id), { key: k, field: "last_batch_id", cls: "num", raw: t.last_batch_id });
    cell(tr, fmt.dec(t.last_batch_ms === null ? null : t.last_batch_ms / 1000), { key: k, field: "batch_s", cls: "num" });
    cell(tr, fmt.int(t.input_rows_per_s), { key: k, field: "input_rows_per_s", cls: "num" });
    cell(tr, fmt.int(t.processed_rows_per_s), { key: k, field: "processed_rows_per_s", cls: "num" });
    cell(tr, fmt.int(t.restarts), { key: k, field: "restarts", cls: "num", raw: t.restarts });
    cell(tr, fmt.text(t.last_error || t.problem), { key: k, field: "last_error", cls: "wrap" });
  });
  fill("tables", topics, (tr, t) => {
    const k = t.table;
    cell(tr, k);
    cell(tr, fmt.int(t.rows_written), { key: k, field: "rows_written", cls: "num", raw: t.rows_written });
    cell(tr, fmt.dec(t.freshness_s, 1), { key: k, field: "freshness_s", cls: "num", raw: t.freshness_s });
    cell(tr, fmt.dec(t.latency_p50_s), { key: k, field: "latency_p50_s", cls: "num", raw: t.latency_p50_s });
    cell(tr, fmt.dec(t.latency_p99_s), { key: k, field: "latency_p99_s", cls: "num", raw: t.latency_p99_s });
    cell(tr, fmt.int(t.latency_samples), { key: k, field: "latency_samples", cls: "num" });
  });
}

function renderServices(services) {
  fill("services", services, (tr, s) => {
    cell(tr, s.service);
    cell(tr, s.state, { key: s.service, field: "state", cls: s.state });
    cell(tr, fmt.text(s.uptime));
    cell(tr, s.address);
    // Why a service is not up; an up job's detail is the query table above.
    cell(tr, s.state === "up" ? "-" : fmt.text(s.detail), { key: s.service, field: "detail", cls: "wrap" });
  });
}

function renderDeadLetters(letters) {
  fill("dead-reasons", letters.by_reason, (tr, d) => {
    cell(tr, d.topic);
    cell(tr, d.reason, { cls: "wrap" });
    cell(tr, fmt.int(d.count), { cls: "num" });
  });
  fill("dead-newest", letters.newest, (tr, d) => {
    cell(tr, fmt.time(d.failed_at));
    cell(tr, `${d.topic}:${d.partition}:${d.offset}`, { field: "record" });
    cell(tr, d.reason, { cls: "wrap", field: "reason" });
  });
}

function renderAlerts(alerts) {
  document.getElementById("alerts-section").hidden = !alerts;
  if (!alerts) return;
  document.getElementById("alerts-summary").textContent =
    `${fmt.int(alerts.alerts_written)} rows written since the job started, ` +
    `${fmt.int(alerts.late_dropped)} late events dropped, state ${fmt.int(alerts.state_rows)} rows`;
  fill("alerts", alerts.newest, (tr, a) => {
    cell(tr, fmt.time(a.window_start));
    cell(tr, `${a.subject_type} ${a.subject}`, { key: a.subject, field: "subject" });
    cell(tr, a.reason, { field: "reason" });
    cell(tr, fmt.int(a.failures), { cls: "num", field: "failures" });
    cell(tr, fmt.int(a.distinct), { cls: "num" });
    cell(tr, fmt.int(a.lockouts), { cls: "num" });
    cell(tr, fmt.time(a.last_failure));
    cell(tr, fmt.time(a.alerted_at));
  });
}

function renderHeader(snap) {
  const badge = document.getElementById("job-state");
  badge.textContent = `job ${snap.job.state}, ${snap.job.health || "unknown"}`;
  badge.className = `badge ${snap.job.health || ""}`;
  const updated = document.getElementById("updated");
  updated.textContent = `updated ${fmt.time(snap.generated_at)}, every ${snap.refresh_s} s`;
  document.body.dataset.generatedAt = snap.generated_at;
  const links = document.getElementById("links");
  links.replaceChildren(
    ...Object.entries(snap.links).map(([name, url]) => {
      const a = document.createElement("a");
      a.href = url;
      a.textContent = name;
      return a;
    }),
  );
  const problems = [
    ...(snap.job.problems || []),
    ...Object.entries(snap.sources).map(([source, error]) => `${source} unreachable: ${error}`),
    ...snap.services.filter((s) => s.state !== "up").map((s) => `${s.service} is ${s.state}${s.detail ? `: ${s.detail}` : ""}`),
  ];
  const box = document.getElementById("problems");
  box.hidden = problems.length === 0;
  box.replaceChildren(...problems.map((p) => Object.assign(document.createElement("div"), { textContent: p })));
}

const chartLayout = (title, unit) => ({
  title: { text: title, font: { size: 13 } },
  margin: { l: 50, r: 10, t: 30, b: 30 },
  xaxis: { type: "date" },
  yaxis: { title: { text: unit }, rangemode: "tozero" },
  legend: { orientation: "h", y: -0.2, font: { size: 10 } },
});

function lines(times, series, suffix = "") {
  return Object.entries(series).map(([name, values]) => ({ x: times, y: values, name: name + suffix, mode: "lines", type: "scatter" }));
}

function renderCharts(history) {
  const times = history.t.map((t) => new Date(t * 1000));
  const config = { displayModeBar: false, responsive: true };
  Plotly.react("chart-rates", [...lines(times, history.produced_per_s, " produced"), ...lines(times, history.processed_per_s, " processed")],
    chartLayout("Records per second, last 15 min", "records/s"), config);
  Plotly.react("chart-lag", lines(times, history.lag), chartLayout("Lag, last 15 min", "records"), config);
  Plotly.react("chart-latency", lines(times, history.p99_s, " p99"), chartLayout("End-to-end latency p99", "seconds"), config);
  document.body.dataset.chartPoints = history.t.length;
}

async function refresh() {
  let wait = 5;
  try {
    const response = await fetch("/api/snapshot", { cache: "no-store" });
    const snap = await response.json();
    if (!response.ok) throw new Error(snap.error || `HTTP ${response.status}`);
    wait = snap.refresh_s;
    renderHeader(snap);
    renderTopics(snap.topics);
    renderServices(snap.services);
    renderDeadLetters(snap.dead_letters);
    renderAlerts(snap.auth_alerts);
    renderCharts(snap.history);
  } catch (err) {
    const box = document.getElementById("problems");
    box.hidden = false;
    box.textContent = `the dashboard's server did not answer: ${err.message}`;
  }
  setTimeout(refresh, Math.max(wait, 1) * 1000);
}

refresh();
