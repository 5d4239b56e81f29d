/** The CSV import pages: the dry run's diff, then what was applied. */
import type { Room } from "../../../core/ports/store.ts";
import { html } from "./html.ts";
import type { ImportDiff } from "./import-diff.ts";
import { csrfField, type PageContext, page } from "./views.ts";

export function importPage(ctx: PageContext, csv: string, diff: ImportDiff | null): string {
  const actionText = { add: "add", change: "change", unchanged: "unchanged", refuse: "refused" } as const;
  return page(
    "Import rooms",
    { ...ctx, section: "import" },
    html`<form method="post" action="/admin/import" class="card form">${csrfField(ctx.csrf)}
<p>Columns: <code>mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,devicePassword</code> (optional: sipUri, insecureTls, insecureHttp, privateMeetings, subjectReplace, subjectTemplate, privateJoin, webrtc, delivery, source). A row whose mailbox exists changes that room.</p>
<label for="csvfile">CSV file</label><input id="csvfile" type="file" accept=".csv,text/csv" data-fill="csv">
<label for="csv">CSV text</label><textarea id="csv" name="csv" rows="10" spellcheck="false" required>${csv}</textarea>
<div class="actions"><button type="submit" name="mode" value="check">Check (dry run)</button></div></form>
${
  diff
    ? html`<section aria-labelledby="diff-title"><h2 id="diff-title">What the import would do</h2>
<p class="summary" id="diff-summary">${diff.counts.add} to add, ${diff.counts.change} to change, ${diff.counts.unchanged} unchanged, ${diff.counts.refuse} refused${diff.ignoredColumns.length ? html`; ignored column(s): ${diff.ignoredColumns.join(", ")}` : ""}</p>
<div class="scroll"><table id="diff"><thead><tr><th scope="col">Line</th><th scope="col">Mailbox</th><th scope="col">Action</th><th scope="col">Details</th></tr></thead><tbody>
${diff.lines.map((l) => html`<tr class="diff-${l.action}"><td>${l.line}</td><td>${l.mailbox || "-"}</td><td><span class="badge ${l.action === "refuse" ? "bad" : l.action === "unchanged" ? "muted" : "ok"}">${actionText[l.action]}</span></td><td>${l.details.length ? html`<ul>${l.details.map((d) => html`<li>${d}</li>`)}</ul>` : "-"}</td></tr>`)}
</tbody></table></div>
${
  diff.counts.refuse > 0
    ? html`<p class="errors" role="alert">Nothing can be applied while a line is refused: fix the file and check it again.</p>`
    : diff.counts.add + diff.counts.change === 0
      ? html`<p>Nothing to apply.</p>`
      : html`<form method="post" action="/admin/import">${csrfField(ctx.csrf)}<textarea name="csv" hidden>${csv}</textarea><button type="submit" name="mode" value="apply">Apply: add ${diff.counts.add}, change ${diff.counts.change}</button></form>`
}</section>`
    : ""
}`,
  );
}

export function importDonePage(ctx: PageContext, added: Array<{ room: Room; deviceToken: string | null }>, changed: Room[]): string {
  const tokens = added.filter((a) => a.deviceToken !== null);
  return page(
    "Import applied",
    { ...ctx, section: "import", notice: `Added ${added.length} room(s), changed ${changed.length}.` },
    html`${
      tokens.length
        ? html`<p>Device tokens of the new pull rooms, shown only this once:</p><table><thead><tr><th scope="col">Mailbox</th><th scope="col">Device token</th></tr></thead><tbody>${tokens.map((t) => html`<tr><td>${t.room.mailbox}</td><td><code class="secret">${t.deviceToken}</code></td></tr>`)}</tbody></table>`
        : ""
    }<p><a href="/admin/rooms">Back to the rooms</a></p>`,
  );
}
