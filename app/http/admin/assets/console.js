// otj console: live bridge sessions (polling, no reload) and the CSV file picker. No inline
// script anywhere (the Content-Security-Policy forbids it). The session rows are rendered by the
// server (the page and the fragment at data-live share one renderer): this script only swaps them.

function rowsOf(fragment) {
  const doc = new DOMParser().parseFromString(`<table><tbody>${fragment}</tbody></table>`, "text/html");
  return [...doc.querySelectorAll("tbody > tr")];
}

function liveSessions(table) {
  const body = table.tBodies[0];
  const status = document.getElementById("live");
  const empty = document.getElementById("no-sessions");
  let failures = 0;
  const refresh = async () => {
    try {
      const response = await fetch(table.dataset.live, { headers: { accept: "text/html" }, credentials: "same-origin", redirect: "manual" });
      if (response.type === "opaqueredirect" || response.status === 401) {
        window.location.assign(`/admin/login?next=${encodeURIComponent(window.location.pathname)}`);
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      const rows = rowsOf(await response.text());
      body.replaceChildren(...rows);
      if (empty) empty.hidden = rows.length > 0;
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

// Rooms page: "select all" ticks every room of the page.
function selectAll(box) {
  box.addEventListener("change", () => {
    for (const item of document.querySelectorAll(`input[type=checkbox][name=${box.dataset.selectAll}]`)) item.checked = box.checked;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table[data-live]")) liveSessions(table);
  for (const input of document.querySelectorAll("input[type=file][data-fill]")) filePicker(input);
  for (const box of document.querySelectorAll("input[type=checkbox][data-select-all]")) selectAll(box);
});
