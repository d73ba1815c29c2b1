// Footfall dashboard: the only script. Live occupancy over server-sent events, and model
// selectors that apply on change. No framework, no build.
"use strict";

function fillOccupancy(table, payload) {
  const body = table.tBodies[0];
  const keys = Array.from(table.tHead.rows[0].cells).map((th) => th.dataset.key);
  body.replaceChildren();
  for (const zone of payload.zones) {
    const tr = document.createElement("tr");
    for (const key of keys) {
      const td = document.createElement("td");
      let value = zone[key];
      if (key === "sampled_at" && value) value = value.replace("T", " ").slice(0, 16) + " UTC";
      td.textContent = value === null || value === undefined ? "-" : String(value);
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  table.dataset.updated = payload.at;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table[data-live]")) {
    if (!window.EventSource) break;
    const source = new EventSource(table.dataset.live);
    source.addEventListener("occupancy", (event) => fillOccupancy(table, JSON.parse(event.data)));
  }
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
});
