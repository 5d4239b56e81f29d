/*
 * otj-join: one-button join for a Cisco RoomOS device, pulling the room's meetings from otj.
 *
 * Runs in the device's macro runtime (Macro Editor, or `xCommand Macros Macro Save`). Plain
 * JavaScript, no build step, no modules besides 'xapi'. The device needs:
 *   xConfiguration HttpClient Mode: On
 *   xConfiguration HttpClient AllowInsecureHTTPS: True   (only for a self-signed otj certificate)
 *   xConfiguration Macros Mode: On
 * See docs/roomos-macro.md in the otj repository.
 */
import xapi from 'xapi';

// ---- Configuration: edit these for the room --------------------------------------------------
/** otj's public URL (http.publicUrl), without a trailing slash. */
const OTJ_URL = 'https://otj.example.com';
/** The room's id or mailbox, as `otj rooms list` shows it. */
const ROOM_ID = 'room101@contoso.example';
/** The room's device token (`otj rooms token ROOM`). Treat it like a password. */
const DEVICE_TOKEN = 'paste-the-device-token-here';

const OPTIONS = {
  /** Seconds between polls; otj allows 10 requests a minute per token, once a minute is plenty. */
  pollSeconds: 60,
  /** How many meetings to ask for (1-100). */
  limit: 20,
  /** Accept a self-signed otj certificate (also needs HttpClient AllowInsecureHTTPS). */
  allowInsecureHttps: false,
  /** Seconds the device waits for otj's answer. */
  httpTimeoutSeconds: 10,
  /** Ask on screen "Join now?" when a meeting's join window opens. */
  promptAtStart: true,
  /** Join by itself when the join window opens, after a countdown that can be cancelled. */
  autoConnect: false,
  /** Countdown before an automatic join, in seconds. */
  autoConnectSeconds: 30,
  /** Hang up the call the macro placed when the meeting's join window closes. */
  hangUpAtEnd: false,
  /** Join Zoom meetings with the device's native Zoom join instead of dialling the Zoom CRC. */
  zoomNativeJoin: false,
  /** Buttons on the panel at most. */
  maxButtons: 6,
  /** Panel id and its name on the home screen. */
  panelId: 'otj_join',
  panelName: 'Meetings',
};
// ------------------------------------------------------------------------------------------------

const TICK_SECONDS = 15;
const MAX_BACKOFF_SECONDS = 900;
const UNAUTHORIZED_RETRY_SECONDS = 900;
const WIDGET_PREFIX = 'otj_join_';
const PROMPT_PREFIX = 'otj_start_';
const WEBRTC_TYPES = { teams: 'MSTeams', 'google-meet': 'GoogleMeet' };
const LOBBY_TEXT = {
  lobby: 'Waiting in the Teams lobby. Someone in the meeting has to admit this room.',
  admitted: 'Admitted to the meeting.',
  denied: 'The meeting did not admit this room.',
  timeout: 'Nobody admitted the room.',
  failed: 'Could not join the meeting as a guest.',
};

const state = {
  meetings: [],
  etag: null,
  failures: 0,
  pollTimer: null,
  authProblem: false,
  panelXml: null,
  prompted: {},
  pendingAuto: null,
  joined: null,
  lastBridgeState: {},
};

function log(message) {
  console.log('otj-join: ' + message);
}

function nowMs() {
  return Date.now();
}

function headerValue(headers, name) {
  if (!headers) return null;
  const wanted = name.toLowerCase();
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (h && String(h.Key).toLowerCase() === wanted) return String(h.Value);
  }
  return null;
}

function escapeXml(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function clockText(iso) {
  const d = new Date(iso);
  const pad = (n) => (n < 10 ? '0' : '') + n;
  return pad(d.getHours()) + ':' + pad(d.getMinutes());
}

function meetingTitle(m) {
  return m.subject || m.organizerName || 'Meeting';
}

/** Meetings whose join window is open now and that have a way in. */
function joinable(now) {
  return state.meetings.filter((m) => m.route !== 'none' && m.dialString && Date.parse(m.joinFrom) <= now && now <= Date.parse(m.joinUntil));
}

function byId(id) {
  for (let i = 0; i < state.meetings.length; i++) if (state.meetings[i].id === id) return state.meetings[i];
  return null;
}

// ---- Polling -------------------------------------------------------------------------------------

function schedulePoll(seconds) {
  if (state.pollTimer !== null) clearTimeout(state.pollTimer);
  state.pollTimer = setTimeout(() => {
    state.pollTimer = null;
    poll();
  }, Math.max(1, seconds) * 1000);
}

/** The HttpClient answer as {status, headers, body}, whether the command resolved or failed. */
async function httpGet(url, headers) {
  try {
    const r = await xapi.Command.HttpClient.Get({
      Url: url,
      Header: headers,
      ResultBody: 'PlainText',
      AllowInsecureHTTPS: OPTIONS.allowInsecureHttps ? 'True' : 'False',
      Timeout: OPTIONS.httpTimeoutSeconds,
    });
    return { status: Number(r.StatusCode), headers: r.Headers || [], body: r.Body || '' };
  } catch (error) {
    const data = (error && error.data) || {};
    if (data.StatusCode) return { status: Number(data.StatusCode), headers: data.Headers || [], body: data.Body || '' };
    return { status: 0, headers: [], body: '', message: (error && error.message) || String(error) };
  }
}

async function poll() {
  const url = OTJ_URL + '/v1/rooms/' + encodeURIComponent(ROOM_ID) + '/meetings?limit=' + OPTIONS.limit;
  const headers = ['Authorization: Bearer ' + DEVICE_TOKEN, 'Accept: application/json'];
  if (state.etag) headers.push('If-None-Match: ' + state.etag);
  const reply = await httpGet(url, headers);
  let next = OPTIONS.pollSeconds;
  if (reply.status === 200) {
    let body = null;
    try {
      body = JSON.parse(reply.body);
    } catch {
      body = null;
    }
    if (body && Array.isArray(body.meetings)) {
      state.meetings = body.meetings;
      state.etag = headerValue(reply.headers, 'ETag');
      state.failures = 0;
      state.authProblem = false;
      noticeBridgeStates();
    } else {
      log('otj answered with a body that is not the meetings list');
      next = backoff();
    }
  } else if (reply.status === 304) {
    state.failures = 0;
    state.authProblem = false;
  } else if (reply.status === 429) {
    const wait = Number(headerValue(reply.headers, 'Retry-After'));
    next = Number.isFinite(wait) && wait > 0 ? Math.ceil(wait) : OPTIONS.pollSeconds * 2;
    log('rate limited by otj; next poll in ' + next + ' s');
  } else if (reply.status === 401 || reply.status === 403) {
    if (!state.authProblem) {
      log('otj refused the device token (HTTP ' + reply.status + '); check DEVICE_TOKEN and ROOM_ID');
      alert('Meetings unavailable', 'otj refused this device. An administrator has to check the macro configuration.', 20);
    }
    state.authProblem = true;
    state.meetings = [];
    state.etag = null;
    next = UNAUTHORIZED_RETRY_SECONDS;
  } else {
    log('poll failed: ' + (reply.status ? 'HTTP ' + reply.status : reply.message));
    next = backoff();
  }
  schedulePoll(next);
  await refresh();
}

function backoff() {
  state.failures += 1;
  return Math.min(MAX_BACKOFF_SECONDS, OPTIONS.pollSeconds * 2 ** Math.min(state.failures, 10));
}

// ---- Panel ---------------------------------------------------------------------------------------

function panelXml(now) {
  const rows = [];
  const open = joinable(now).slice(0, OPTIONS.maxButtons);
  if (state.authProblem) {
    rows.push('<Row><Name>otj</Name><Widget><WidgetId>otj_join_status</WidgetId><Name>Meetings unavailable: ask an administrator</Name><Type>Text</Type><Options>size=4;fontSize=normal;align=center</Options></Widget></Row>');
  } else if (open.length === 0) {
    rows.push('<Row><Name>otj</Name><Widget><WidgetId>otj_join_status</WidgetId><Name>No meeting to join right now</Name><Type>Text</Type><Options>size=4;fontSize=normal;align=center</Options></Widget></Row>');
  }
  for (let i = 0; i < open.length; i++) {
    const m = open[i];
    const label = clockText(m.startTime) + ' ' + meetingTitle(m);
    rows.push(
      '<Row><Name>' + escapeXml(clockText(m.startTime) + '-' + clockText(m.endTime)) + '</Name><Widget><WidgetId>' + WIDGET_PREFIX + escapeXml(m.id) + '</WidgetId><Name>' +
        escapeXml(label.slice(0, 60)) + '</Name><Type>Button</Type><Options>size=4</Options></Widget></Row>',
    );
  }
  return (
    '<Extensions><Version>1.11</Version><Panel><Order>1</Order><PanelId>' + escapeXml(OPTIONS.panelId) + '</PanelId><Location>HomeScreenAndCallControls</Location><Icon>Calendar</Icon>' +
    '<Name>' + escapeXml(OPTIONS.panelName) + '</Name><ActivityType>Custom</ActivityType><Page><Name>' + escapeXml(OPTIONS.panelName) + '</Name>' + rows.join('') +
    '<PageId>otj_join_page</PageId><Options>hideRowNames=1</Options></Page></Panel></Extensions>'
  );
}

async function savePanel(now) {
  const xml = panelXml(now);
  if (xml === state.panelXml) return;
  try {
    await xapi.Command.UserInterface.Extensions.Panel.Save({ PanelId: OPTIONS.panelId }, xml);
    state.panelXml = xml;
  } catch (error) {
    log('could not save the panel: ' + ((error && error.message) || error));
  }
}

/** Redraws the panel, offers newly opened meetings, hangs up meetings that are over. */
async function refresh() {
  const now = nowMs();
  await savePanel(now);
  const open = joinable(now);
  for (let i = 0; i < open.length; i++) {
    const m = open[i];
    if (state.prompted[m.id]) continue;
    state.prompted[m.id] = true;
    if (OPTIONS.autoConnect) startCountdown(m);
    else if (OPTIONS.promptAtStart) offer(m);
  }
  await hangUpIfOver(now);
}

// ---- Joining -------------------------------------------------------------------------------------

function alert(title, text, seconds) {
  return xapi.Command.UserInterface.Message.Alert.Display({ Title: title, Text: text, Duration: seconds }).catch((e) => log('alert failed: ' + ((e && e.message) || e)));
}

function offer(m) {
  xapi.Command.UserInterface.Message.Prompt.Display({
    Title: 'Meeting starting',
    Text: meetingTitle(m) + ' (' + clockText(m.startTime) + ')',
    FeedbackId: PROMPT_PREFIX + m.id,
    'Option.1': 'Join now',
    'Option.2': 'Not now',
  }).catch((e) => log('prompt failed: ' + ((e && e.message) || e)));
}

function startCountdown(m) {
  if (state.pendingAuto !== null) return;
  const pending = { id: m.id, timer: null };
  state.pendingAuto = pending;
  xapi.Command.UserInterface.Message.Prompt.Display({
    Title: 'Joining ' + meetingTitle(m),
    Text: 'The room joins in ' + OPTIONS.autoConnectSeconds + ' seconds.',
    FeedbackId: PROMPT_PREFIX + m.id,
    Duration: OPTIONS.autoConnectSeconds,
    'Option.1': 'Join now',
    'Option.2': 'Cancel',
  }).catch((e) => log('prompt failed: ' + ((e && e.message) || e)));
  pending.timer = setTimeout(() => {
    if (state.pendingAuto !== pending) return;
    state.pendingAuto = null;
    const current = byId(m.id);
    if (current) join(current);
  }, OPTIONS.autoConnectSeconds * 1000);
}

function cancelCountdown() {
  if (state.pendingAuto === null) return;
  clearTimeout(state.pendingAuto.timer);
  state.pendingAuto = null;
}

function zoomCoordinates(dialString) {
  const match = /^(\d{9,11})(?:\.([A-Za-z0-9]+))?@/.exec(dialString);
  return match ? { id: match[1], passcode: match[2] || '' } : null;
}

async function join(m) {
  cancelCountdown();
  xapi.Command.UserInterface.Message.Prompt.Clear({ FeedbackId: PROMPT_PREFIX + m.id }).catch(() => undefined);
  try {
    if (m.route === 'webrtc') {
      const type = WEBRTC_TYPES[m.platform];
      if (!type) throw new Error('no WebRTC join for platform ' + m.platform);
      await xapi.Command.WebRTC.Join({ Type: type, Url: m.joinUrl || m.dialString });
    } else if (m.platform === 'zoom' && OPTIONS.zoomNativeJoin && zoomCoordinates(m.dialString)) {
      const z = zoomCoordinates(m.dialString);
      const args = { MeetingID: z.id };
      if (z.passcode) args.MeetingPasscode = z.passcode;
      await xapi.Command.Zoom.Join(args);
    } else {
      if (m.route === 'sgj') alert('Joining as a guest', 'This room joins ' + meetingTitle(m) + ' as a guest and waits in the lobby until someone admits it.', 20);
      await xapi.Command.Dial({ Number: m.dialString, Protocol: m.dialString.indexOf('##') >= 0 ? 'H323' : 'Sip' });
    }
    state.joined = { id: m.id, until: Date.parse(m.joinUntil) };
    log('joined ' + m.id + ' by route ' + m.route);
  } catch (error) {
    log('join failed: ' + ((error && error.message) || error));
    alert('Could not join', meetingTitle(m) + ': the device could not start the call.', 10);
  }
}

async function hangUpIfOver(now) {
  if (!OPTIONS.hangUpAtEnd || state.joined === null || now < state.joined.until) return;
  state.joined = null;
  try {
    const calls = await xapi.Status.Call.get();
    if (calls && calls.length > 0) {
      await xapi.Command.Call.Disconnect();
      log('hung up at the end of the meeting');
    }
  } catch (error) {
    log('hang-up failed: ' + ((error && error.message) || error));
  }
}

/** Lobby notices for the meeting this device joined through SIP Guest Join. */
function noticeBridgeStates() {
  if (state.joined === null) return;
  const m = byId(state.joined.id);
  if (!m || m.route !== 'sgj' || !m.bridgeState) return;
  if (state.lastBridgeState[m.id] === m.bridgeState) return;
  state.lastBridgeState[m.id] = m.bridgeState;
  const text = LOBBY_TEXT[m.bridgeState];
  if (text) alert(meetingTitle(m), text, m.bridgeState === 'lobby' ? 0 : 10);
}

// ---- Events --------------------------------------------------------------------------------------

function onWidgetAction(event) {
  if (!event || event.Type !== 'clicked' || typeof event.WidgetId !== 'string' || event.WidgetId.indexOf(WIDGET_PREFIX) !== 0) return;
  const m = byId(event.WidgetId.slice(WIDGET_PREFIX.length));
  if (m && m.route !== 'none' && m.dialString) join(m);
}

function onPromptResponse(event) {
  if (!event || typeof event.FeedbackId !== 'string' || event.FeedbackId.indexOf(PROMPT_PREFIX) !== 0) return;
  const m = byId(event.FeedbackId.slice(PROMPT_PREFIX.length));
  if (String(event.OptionId) === '1' && m) join(m);
  else if (state.pendingAuto !== null && state.pendingAuto.id === event.FeedbackId.slice(PROMPT_PREFIX.length)) cancelCountdown();
}

function onPanelClicked(event) {
  if (event && event.PanelId === OPTIONS.panelId) refresh();
}

function onCallDisconnect() {
  state.joined = null;
}

function main() {
  xapi.Event.UserInterface.Extensions.Widget.Action.on(onWidgetAction);
  xapi.Event.UserInterface.Extensions.Panel.Clicked.on(onPanelClicked);
  xapi.Event.UserInterface.Message.Prompt.Response.on(onPromptResponse);
  xapi.Event.CallDisconnect.on(onCallDisconnect);
  setInterval(() => {
    refresh();
  }, TICK_SECONDS * 1000);
  xapi.Config.HttpClient.Mode.get()
    .then((mode) => {
      if (String(mode) !== 'On') log('xConfiguration HttpClient Mode is ' + mode + '; otj cannot be reached until it is On');
    })
    .catch(() => undefined);
  poll();
}

main();
