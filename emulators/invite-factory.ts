/**
 * Realistic synthetic Teams invites (layouts of docs/formats.md) for benchmarks, the demo and
 * tests. Everything is invented; sizes are tunable so bodies can reach tens of kilobytes.
 */

export interface TeamsMeetingSpec {
  threadKey: string;
  tenantId?: string;
  organizerId?: string;
  meetingId?: string;
  passcode?: string;
  cvi?: { tenantKey: string; videoId: string; moreInfoUrl?: string };
  short?: boolean;
}

const RULE = "_".repeat(80);

export function classicUrl(spec: TeamsMeetingSpec): string {
  const tid = spec.tenantId ?? "c0ffee00-1111-4222-8333-444455556666";
  const oid = spec.organizerId ?? "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d";
  const thread = Buffer.from(spec.threadKey.padEnd(36, "0").slice(0, 36)).toString("base64").replace(/=+$/, "");
  return `https://teams.microsoft.com/l/meetup-join/19%3ameeting_${thread}%40thread.v2/0?context=%7b%22Tid%22%3a%22${tid}%22%2c%22Oid%22%3a%22${oid}%22%7d`;
}

function groups(digits: string): string {
  return digits.replace(/(\d{3})(?=\d)/g, "$1 ");
}

function agendaHtml(bytes: number): string {
  let out = "";
  let i = 0;
  while (out.length < bytes) {
    out += `<p class="MsoNormal"><span style="font-size:11.0pt;font-family:&quot;Calibri&quot;,sans-serif;color:#1F3864">Agenda item ${++i}: review the quarterly figures, the open actions from the last steering meeting and the plan for the next release. Owners please bring short updates.</span></p>\r\n`;
  }
  return out;
}

/** V4-style HTML body (Join the meeting now, Meeting ID, passcode, optional CVI). */
export function teamsHtmlV4(spec: TeamsMeetingSpec, padBytes = 8000): string {
  const url = classicUrl(spec);
  const cvi = spec.cvi
    ? `<div><span class="me-email-text-secondary">Join on a video conferencing device</span></div>
<div><span class="me-email-text-secondary">Tenant key: </span><span class="me-email-text"><a href="mailto:${spec.cvi.tenantKey}">${spec.cvi.tenantKey}</a></span></div>
<div><span class="me-email-text-secondary">Video ID: </span><span class="me-email-text">${groups(spec.cvi.videoId)}</span></div>
<div><a class="me-email-link" href="${spec.cvi.moreInfoUrl ?? "https://www.webex.com/msteams?confid=" + spec.cvi.videoId + "&amp;tenantkey=contoso&amp;domain=m.webex.com"}">More info</a></div>`
    : "";
  return `<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><meta name="Generator" content="Microsoft Word 15 (filtered medium)"><style>p.MsoNormal{margin:0cm;font-size:11.0pt}</style></head><body lang="EN-US" link="#0563C1">
<div class="WordSection1">${agendaHtml(padBytes)}
<div style="max-width:1024px"><span style="white-space:nowrap;color:#5F5F5F;opacity:.36">${RULE}</span></div>
<div class="me-email-text" style="color:#252424;font-family:'Segoe UI'"><div style="margin-bottom:24px"><span style="font-size:18pt;font-weight:700">Microsoft Teams</span> <a href="https://aka.ms/JoinTeamsMeeting?omkt=en-US">Need help?</a></div>
<div><a class="me-email-headline" title="Meeting join link" href="${url}" style="font-size:15pt;font-weight:700;color:#5B5FC7">Join the meeting now</a></div>
<div><span class="me-email-text-secondary">Meeting ID: </span><span class="me-email-text">${groups(spec.meetingId ?? "246813579024")}</span></div>
<div><span class="me-email-text-secondary">Passcode: </span><span class="me-email-text">${spec.passcode ?? "aB3dE5fG"}</span></div>
<div><span>________________________________</span></div>
<div><span>Dial in by phone</span></div><div><a href="tel:+15550100,,246813579#">+1 555-0100,,246813579#</a> United States, Springfield</div>
<div><a href="https://dialin.teams.microsoft.com/6f1c7a2e-0000-4000-8000-000000000000?id=246813579">Find a local number</a></div>
<div><span class="me-email-text-secondary">Phone conference ID: </span><span class="me-email-text">246 813 579#</span></div>
${cvi}
<div><span class="me-email-text-secondary">For organizers: </span><a class="me-email-link" href="https://teams.microsoft.com/meetingOptions/?organizerId=0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d&amp;tenantId=c0ffee00-1111-4222-8333-444455556666&amp;threadId=19_meeting_x@thread.v2&amp;messageId=0&amp;language=en-US">Meeting options</a> | <a class="me-email-link" href="https://dialin.teams.microsoft.com/usp/pstnconferencing">Reset dial-in PIN</a></div>
</div><div><span style="white-space:nowrap;color:#5F5F5F;opacity:.36">${RULE}</span></div></div></body></html>`;
}

/** V5-style HTML body with the short URL printed and a System reference link. */
export function teamsHtmlV5(spec: TeamsMeetingSpec, padBytes = 8000): string {
  const meetingId = spec.meetingId ?? "357159246802468";
  const short = `https://teams.microsoft.com/meet/${meetingId}?p=Q2w3E4r5T6y7U8i9O0`;
  return teamsHtmlV4(spec, padBytes)
    .replace(/<a class="me-email-headline"[^>]*>Join the meeting now<\/a>/, `Join: <a href="${short}">${short}</a>`)
    .replace("Need help?</a>", `Need help?</a> | <a href="${classicUrl(spec)}">System reference</a>`)
    .replace(/Meeting ID: <\/span><span class="me-email-text">[^<]*/, `Meeting ID: </span><span class="me-email-text">${groups(meetingId)}`);
}

/** V3-style HTML body (Click here to join the meeting) with Safe Links hrefs and originalsrc. */
export function teamsHtmlV3(spec: TeamsMeetingSpec, padBytes = 8000): string {
  const url = classicUrl(spec);
  const safe = `https://eur01.safelinks.protection.outlook.com/ap/t-59584e83/?url=${encodeURIComponent(url)}&amp;data=05%7C02%7Croom%40contoso.example%7C0%7C&amp;sdata=AbC%3D&amp;reserved=0`;
  return `<html><body><div>${agendaHtml(padBytes)}</div><div>${RULE}</div>
<div class="me-email-text" lang="en-US"><span style="font-size:24px">Microsoft Teams meeting</span><br><b>Join on your computer, mobile app or room device</b><br>
<a class="me-email-headline" href="${safe}" originalsrc="${url.replace(/&/g, "&amp;")}" shash="x">Click here to join the meeting</a><br>
<span>Meeting ID: </span><span>${groups(spec.meetingId ?? "391802564137")}</span><br><span>Passcode: </span><span>${spec.passcode ?? "Xy7Qp2"}</span><br>
<a href="https://www.microsoft.com/en-us/microsoft-teams/download-app">Download Teams</a> | <a href="https://www.microsoft.com/microsoft-teams/join-a-meeting">Join on the web</a><br>
<b>Or call in (audio only)</b><br><a href="tel:+15550100,,246813579#">+1 555-0100,,246813579#</a> United States<br>Phone Conference ID: 246 813 579#<br>
<a href="https://aka.ms/JoinTeamsMeeting">Learn More</a> | <a href="https://teams.microsoft.com/meetingOptions/?organizerId=x">Meeting options</a></div><div>${RULE}</div></body></html>`;
}

function fold(line: string): string {
  const out: string[] = [];
  let rest = line;
  out.push(rest.slice(0, 75));
  rest = rest.slice(75);
  while (rest.length > 0) {
    out.push(` ${rest.slice(0, 74)}`);
    rest = rest.slice(74);
  }
  return out.join("\r\n");
}

function icsText(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/,/g, "\\,").replace(/;/g, "\\;").replace(/\r?\n/g, "\\n");
}

export interface EventSpec {
  uid: string;
  subject: string;
  start: string; // UTC ISO
  end: string;
  organizer?: { name: string; email: string };
  method?: "REQUEST" | "CANCEL";
  sequence?: number;
  private?: boolean;
}

function icsStamp(iso: string): string {
  return iso.replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** Exchange-style iCalendar with Teams X- properties and a text DESCRIPTION. */
export function teamsIcs(ev: EventSpec, spec: TeamsMeetingSpec, description: string): string {
  const org = ev.organizer ?? { name: "Alice Example", email: "alice@contoso.example" };
  return [
    "BEGIN:VCALENDAR",
    `METHOD:${ev.method ?? "REQUEST"}`,
    "PRODID:Microsoft Exchange Server 2010",
    "VERSION:2.0",
    "BEGIN:VEVENT",
    fold(`ORGANIZER;CN=${org.name}:mailto:${org.email}`),
    fold(`DESCRIPTION;LANGUAGE=en-US:${icsText(description)}`),
    fold(`UID:${ev.uid}`),
    `SUMMARY;LANGUAGE=en-US:${icsText(ev.subject)}`,
    `DTSTART:${icsStamp(ev.start)}`,
    `DTEND:${icsStamp(ev.end)}`,
    `CLASS:${ev.private ? "PRIVATE" : "PUBLIC"}`,
    `SEQUENCE:${ev.sequence ?? 0}`,
    "LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting",
    fold(`X-MICROSOFT-SKYPETEAMSMEETINGURL:${classicUrl(spec)}`),
    fold(`X-MICROSOFT-SKYPETEAMSPROPERTIES:{"cid":"19:meeting_x@thread.v2"\\,"private":true\\,"type":0\\,"mid":0\\,"rid":0\\,"uid":null}`),
    'X-MICROSOFT-ONLINEMEETINGINFORMATION:{"OnlineMeetingChannelId":null\\,"OnlineMeetingProvider":3}',
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");
}

function qp(text: string): string {
  const lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    let encoded = line.replace(/=/g, "=3D");
    while (encoded.length > 75) {
      let cut = 75;
      if (encoded[cut - 1] === "=") cut -= 1;
      else if (encoded[cut - 2] === "=") cut -= 2;
      lines.push(`${encoded.slice(0, cut)}=`);
      encoded = encoded.slice(cut);
    }
    lines.push(encoded);
  }
  return lines.join("\r\n");
}

/** An Outlook meeting request: multipart/alternative with QP text + HTML and a base64 calendar. */
export function teamsEml(ev: EventSpec, spec: TeamsMeetingSpec, padBytes = 6000): string {
  const html = teamsHtmlV4(spec, padBytes);
  const text = `${RULE}\r\nMicrosoft Teams Need help?<https://aka.ms/JoinTeamsMeeting?omkt=en-US>\r\nJoin the meeting now<${classicUrl(spec)}>\r\nMeeting ID: ${groups(spec.meetingId ?? "246813579024")}\r\nPasscode: ${spec.passcode ?? "aB3dE5fG"}\r\n${RULE}\r\n`;
  const org = ev.organizer ?? { name: "Alice Example", email: "alice@contoso.example" };
  const ics = Buffer.from(teamsIcs(ev, spec, text))
    .toString("base64")
    .replace(/.{76}/g, "$&\r\n");
  return [
    `From: ${org.name} <${org.email}>`,
    "To: Room 101 <room101@contoso.example>",
    `Subject: ${ev.subject}`,
    "Date: Tue, 04 Mar 2025 08:00:00 +0000",
    "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="_000_b1_"',
    "",
    "--_000_b1_",
    'Content-Type: text/plain; charset="us-ascii"',
    "Content-Transfer-Encoding: quoted-printable",
    "",
    qp(text),
    "",
    "--_000_b1_",
    'Content-Type: text/html; charset="us-ascii"',
    "Content-Transfer-Encoding: quoted-printable",
    "",
    qp(html),
    "",
    "--_000_b1_",
    'Content-Type: text/calendar; charset="utf-8"; method=REQUEST',
    "Content-Transfer-Encoding: base64",
    "",
    ics,
    "",
    "--_000_b1_--",
    "",
  ].join("\r\n");
}
