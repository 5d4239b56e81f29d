// otj console: live bridge sessions (polling, no reload) and the CSV file picker. No inline
// script anywhere (the Content-Security-Policy forbids it); every value goes in as text.

const STATE_TEXT = {
  scheduled: "scheduled",
  starting: "starting",
  lobby: "in the lobby",
  admitted: "admitted",
  ended: "ended",
  denied: "denied",
  timeout: "timed out",
  failed: "failed",
  cancelled: "cancelled",
};

function when(iso) {
  return iso ? iso.slice(0, 16).replace("T", " ") : "-";
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function sessionRow(s) {
  const tr = document.createElement("tr");
  tr.dataset.key = s.occurrenceKey;
  tr.append(cell(s.room), cell(s.subject ?? "-"), cell(when(s.dueAt)));
  const state = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = `badge state-${s.state}`;
  badge.textContent = STATE_TEXT[s.state] ?? s.state;
  state.append(badge);
  tr.append(state, cell(when(s.updatedAt)), cell(s.externalId ?? "-"), cell(s.lastError ?? "-"));
  return tr;
}

function liveSessions(table) {
  const body = table.tBodies[0];
  const status = document.getElementById("live");
  const empty = document.getElementById("no-sessions");
  let failures = 0;
  const refresh = async () => {
    try {
      const response = await fetch(table.dataset.live, { headers: { accept: "application/json" }, credentials: "same-origin" });
      if (response.status === 401) {
        window.location.assign(`/admin/login?next=${encodeURIComponent(window.location.pathname)}`);
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      body.replaceChildren(...data.sessions.map(sessionRow));
      if (empty) empty.hidden = data.sessions.length > 0;
      failures = 0;
      if (status) status.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
    } catch {
      failures += 1;
      if (status) status.textContent = "Cannot reach otj; retrying.";
    }
    setTimeout(refresh, Math.min(2000 * 2 ** failures, 30000));
  };
  setTimeout(refresh, 2000);
}

function filePicker(input) {
  const target = document.getElementById(input.dataset.fill);
  input.addEventListener("change", async () => {
    const file = input.files?.[0];
    if (file && target) target.value = await file.text();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table[data-live]")) liveSessions(table);
  for (const input of document.querySelectorAll("input[type=file][data-fill]")) filePicker(input);
});
