// complaintflow dashboard: reads the HTTP API with a dashboard token kept in sessionStorage.
"use strict";
const TOKEN_KEY = "complaintflow.dashboard-token";
const $ = (id) => document.getElementById(id);
let clocks = [];
let complaintOpen = false;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + token() }, cache: "no-store" });
  if (response.status === 401 || response.status === 403) { signOut("That token was refused."); throw new Error("refused"); }
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const sign = seconds < 0 ? "−" : "";
  let s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return sign + (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + s + "s";
}

async function refreshWorkload() {
  const { departments } = await api("/workload");
  const rows = $("workload-rows");
  rows.replaceChildren();
  for (const d of departments) {
    const row = rows.insertRow();
    row.dataset.department = d.department;
    cell(row, d.department);
    cell(row, d.open, "n");
    cell(row, d.at_risk, "n" + (d.at_risk ? " at_risk" : ""));
    cell(row, d.breached, "n" + (d.breached ? " breached" : ""));
    cell(row, duration(d.oldest_open_seconds), "n");
    cell(row, Object.entries(d.by_stage).filter(([, n]) => n).map(([stage, n]) => stage + " " + n).join(", "));
  }
  $("status").textContent = "updated " + new Date().toLocaleTimeString();
}

function showAlert({ alert, department }) {
  const item = document.createElement("li");
  item.className = alert.kind;
  item.dataset.alertId = alert.alert_id;
  const link = document.createElement("a");
  link.href = "#/complaints/" + encodeURIComponent(alert.complaint_id);
  link.textContent = alert.complaint_id;
  item.append(alert.kind + (alert.level ? " L" + alert.level : "") + " · ", link,
    (department ? " · " + department : "") + " · " + new Date(alert.raised_at).toLocaleString());
  const reason = document.createElement("div");
  reason.className = "muted";
  reason.textContent = alert.reason;
  item.append(reason);
  $("alerts").prepend(item);
}

// EventSource cannot send an Authorization header, so the stream is read with fetch.
async function followAlerts() {
  let lastId = null;
  for (;;) {
    try {
      const headers = { Authorization: "Bearer " + token() };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch("/alerts/stream", { headers, cache: "no-store" });
      if (response.status === 401 || response.status === 403) { signOut("That token was refused."); return; }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
          let kind = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) lastId = line.slice(4);
            else if (line.startsWith("event: ")) kind = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (kind === "alert" && data) { showAlert(JSON.parse(data)); refreshWorkload().catch(() => {}); }
        }
      }
    } catch (error) { /* reconnect below */ }
    if (!token()) return;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function showComplaint(id) {
  const [complaint, history] = await Promise.all([
    api("/complaints/" + encodeURIComponent(id)), api("/complaints/" + encodeURIComponent(id) + "/history")]);
  $("complaint").hidden = false;
  $("complaint-title").textContent = complaint.complaint_id + " · " + complaint.stage;
  $("complaint-summary").textContent = "owner " + complaint.owner_department + " · handled by " + complaint.department +
    (complaint.handler ? " (" + complaint.handler + ")" : "") + " · claim " + complaint.claim_amount + " CNY · customer " +
    complaint.customer.name + " " + complaint.customer.phone + " · escalation level " + complaint.escalation_level;
  clocks = complaint.clocks;
  complaintOpen = complaint.open;
  renderClocks();
  const rows = $("timeline-rows");
  rows.replaceChildren();
  for (const { event } of history.events) {
    const row = rows.insertRow();
    cell(row, new Date(event.occurred_at).toLocaleString());
    cell(row, event.type);
    cell(row, event.source);
    cell(row, describe(event.data));
  }
  $("complaint").scrollIntoView();
}

function describe(data) {
  return Object.entries(data).filter(([, value]) => value !== null && !(Array.isArray(value) && !value.length))
    .map(([key, value]) => key + ": " + (typeof value === "object" ? Object.values(value).join(" ") : value)).join(" · ");
}

function renderClocks() {
  const rows = $("clock-rows");
  rows.replaceChildren();
  for (const clock of clocks) {
    const row = rows.insertRow();
    cell(row, clock.name);
    cell(row, clock.status, clock.status);
    cell(row, clock.deadline ? new Date(clock.deadline).toLocaleString() : null);
    // a clock still counting: its remaining time runs down live (a settled one keeps its final figure)
    const running = clock.status === "running" || clock.status === "at_risk" || (clock.status === "breached" && complaintOpen);
    cell(row, clock.deadline && running ? duration((Date.parse(clock.deadline) - Date.now()) / 1000)
      : duration(clock.remaining_seconds), "n");
    cell(row, clock.escalation_level, "n");
  }
}

function route() {
  const match = location.hash.match(/^#\/complaints\/(.+)$/);
  if (match) showComplaint(decodeURIComponent(match[1])).catch((error) => { $("status").textContent = error.message; });
  else $("complaint").hidden = true;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("board").hidden = true; $("lookup").hidden = true; $("login").hidden = false;
  $("login-error").textContent = message || "";
}

function start() {
  $("login").hidden = true; $("board").hidden = false; $("lookup").hidden = false;
  refreshWorkload().catch((error) => { $("status").textContent = error.message; });
  setInterval(() => refreshWorkload().catch(() => {}), 5000);
  setInterval(renderClocks, 1000);
  followAlerts();
  route();
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  start();
});
$("lookup").addEventListener("submit", (event) => {
  event.preventDefault();
  location.hash = "#/complaints/" + encodeURIComponent($("lookup-id").value.trim());
});
window.addEventListener("hashchange", route);
if (token()) start(); else signOut();
