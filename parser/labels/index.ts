/**
 * Localized label tables (docs/formats.md, T5.2, T6). Data only: a new language is a change here.
 * Matching is case-insensitive on normalized lines (NBSP and friends become spaces, fullwidth
 * colons become ':'), with optional spaces before the colon.
 */

export interface LabelTable {
  /** Printed Meeting ID (never the phone conference id). */
  meetingId: readonly string[];
  passcode: readonly string[];
  /** CVI video conference id. */
  videoId: readonly string[];
  tenantKey: readonly string[];
  /** Headings that open the CVI part. */
  cviHeading: readonly string[];
  /** Link texts of the CVI instructions page. */
  cviMoreInfo: readonly string[];
  /** Texts of the Teams join anchor (also used to spot Teams-like phishing links). */
  joinLink: readonly string[];
  /** Labels in front of a printed short join URL (V5). */
  joinPrefix: readonly string[];
  /** Words that make a bare user@host on the same line a video address (B2.3). */
  videoWords: readonly string[];
  /** Lines that start a quoted earlier message. */
  quoteMarkers: readonly string[];
}

export const LABELS: LabelTable = {
  meetingId: [
    "Meeting ID", // en
    "Besprechungs-ID", // de
    "ID de la réunion", // fr
    "Id. de reunión", // es
    "ID de reunión", // es (variant)
    "Møde-id", // da
    "Kokouksen tunnus", // fi (unconfirmed)
    "会議 ID", // ja
    "会議ID", // ja (no space)
    "会议 ID", // zh-Hans (unconfirmed)
    "会议ID", // zh-Hans (no space)
    "Vergadering-id", // nl
    "ID riunione", // it (weak fixture)
    "ID della riunione", // it (variant)
    "Vergaderings-id", // nl (V3 form; seen in a Teams-marker list, docs/formats.md L-nl)
    "ID de réunion", // fr-CA (L-fr-CA)
    "ID da Reunião", // pt-BR, pt-PT (L-pt)
    "Identyfikator spotkania", // pl (L-pl)
    "Mötes-ID", // sv (L-sv)
    "Møte-ID", // nb (L-nb)
    "모임 ID", // ko (L-ko)
    "會議 ID", // zh-TW (L-zh-TW)
    "會議ID", // zh-TW (no space)
    "Toplantı Kimliği", // tr (L-tr)
    "ID schůzky", // cs (L-cs)
  ],
  passcode: [
    "Passcode", // en, de, it
    "Kennung", // de (unconfirmed)
    "Code secret", // fr
    "Código de acceso", // es
    "Adgangskode", // da
    "Tunnuskoodi", // fi (unconfirmed)
    "パスコード", // ja
    "密码", // zh-Hans (unconfirmed)
    "Wachtwoordcode", // nl
    "Codice d'accesso", // it (unconfirmed)
    "Code d'accès", // fr-CA (L-fr-CA)
    "Senha", // pt-BR (L-pt)
    "Código de acesso", // pt-PT (L-pt)
    "Kod dostępu", // pl (L-pl)
    "Lösenord", // sv (L-sv)
    "Passord", // nb (L-nb)
    "암호", // ko (L-ko)
    "密碼", // zh-TW (L-zh-TW)
    "Geçiş Kodu", // tr (L-tr)
    "Heslo", // cs (L-cs)
  ],
  videoId: [
    "VTC Conference ID",
    "Video Conference ID",
    "Video ID",
    "Video-ID",
    "Videoneuvottelun tunnus",
    "ID de conférence vidéo",
    "Id. de videoconferencia",
    "ビデオ ID",
    "视频 ID",
    "Video-id",
  ],
  tenantKey: [
    "Tenant key",
    "Mandantenschlüssel",
    "Lejernøgle",
    "Clé de locataire",
    "Clave de inquilino",
    "Tenantsleutel",
    "Vuokraajan avain",
    "テナント キー",
    "租户密钥",
    "Chiave tenant",
  ],
  cviHeading: [
    "Join with a video conferencing device",
    "Join on a video conferencing device",
    "Mit einem Gerät für Videokonferenzen teilnehmen",
    "Tilmeld dig på en enhed til videomøder",
  ],
  cviMoreInfo: [
    "Alternate VTC dialing instructions",
    "Alternate VTC instructions",
    "More info",
    "Weitere Informationen",
    "Flere oplysninger",
    "Vaihtoehtoiset VTC-liittymisohjeet",
    "Más información",
    "Meer informatie",
    "Plus d'informations",
    "詳細情報",
  ],
  joinLink: [
    "Join Microsoft Teams Meeting",
    "Click here to join the meeting",
    "Click to join the meeting",
    "Join the meeting now",
    "Hier klicken, um an der Besprechung teilzunehmen",
    "Jetzt an der Besprechung teilnehmen",
    "Cliquez ici pour participer à la réunion",
    "Unirse a la reunión ahora",
    "Tilmeld dig mødet nu",
    "今すぐ会議に参加する",
    "ここをクリックして会議に参加してください",
    "单击此处加入会议",
    "Nu deelnemen aan de vergadering",
    "Fai clic qui per partecipare alla riunione",
    "Clique aqui para ingressar na reunião",
    "Clique aqui para participar na reunião",
    "Kliknij tutaj, aby dołączyć do spotkania",
    "Klicka här för att ansluta till mötet",
    "Klikk her for å bli med i møtet",
    "Cliquez ici pour rejoindre la réunion",
    "여기를 클릭하여 모임에 참가",
    "按一下這裡以加入會議",
    "Toplantıya katılmak için buraya tıklayın",
    "Klikněte sem a připojte se ke schůzce",
    "System reference",
    "Systemreferenz",
  ],
  joinPrefix: ["Join", "Teilnehmen", "Unirse", "Participer", "Deelnemen", "Partecipa", "Tilmeld", "Liity", "参加する", "加入"],
  videoWords: ["video", "vtc", "room system", "video system", "sip", "h.323", "h323", "join by video", "dial", "videokonferenz", "visio"],
  quoteMarkers: [
    "-----Original Appointment-----",
    "-----Original Message-----",
    "-----Ursprünglicher Termin-----",
    "-----Ursprüngliche Nachricht-----",
    "-----Message d'origine-----",
    "-----Rendez-vous d'origine-----",
    "-----Mensaje original-----",
    "-----Cita original-----",
    "-----Oprindelig aftale-----",
    "-----Oprindelig meddelelse-----",
    "-----Oorspronkelijke afspraak-----",
    "-----Oorspronkelijk bericht-----",
    "-----Messaggio originale-----",
    "---------- Forwarded message ---------",
  ],
};

export interface LabelHit {
  /** Text after the label and its colon, trimmed ("" when the value is on the next line). */
  rest: string;
  /** Index in the line where the label starts. */
  index: number;
}

const LATIN = /[A-Za-z\u00C0-\u024F]/;
const LETTER = /\p{L}/u;

/**
 * True when `prev` glues onto a label starting with `first`, so the label is the tail of another
 * word: a Latin label after a Latin letter, a label in another script after a letter of any
 * script other than Latin ("電話会議 ID" is not "会議 ID"). Digits and other scripts before a
 * Latin label do not glue: clients join "…012" or "…会议" onto the next line's label.
 */
function glued(prev: string, first: string): boolean {
  if (LATIN.test(first)) return LATIN.test(prev);
  return LETTER.test(prev) && !LATIN.test(prev);
}

/** A label list prepared for matching: lowercased, plus the ASCII characters labels end with. */
interface PreparedLabels {
  needles: string[];
  /** lastAscii[c] is 1 when some needle ends with the ASCII character c. */
  lastAscii: Uint8Array;
}

const PREPARED = new WeakMap<readonly string[], PreparedLabels>();

function prepared(labels: readonly string[]): PreparedLabels {
  let p = PREPARED.get(labels);
  if (!p) {
    const needles = labels.map((x) => x.toLowerCase());
    const lastAscii = new Uint8Array(128);
    for (const needle of needles) {
      const last = needle.charCodeAt(needle.length - 1);
      if (last < 128) lastAscii[last] = 1;
    }
    p = { needles, lastAscii };
    PREPARED.set(labels, p);
  }
  return p;
}

/** findLabel for a text whose lowercase form may not keep every index (e.g. plain toLowerCase). */
export function findLabelInLowered(text: string, lowerText: string, labels: readonly string[]): LabelHit | null {
  const { needles } = prepared(labels);
  for (let colon = lowerText.indexOf(":"); colon >= 0; colon = lowerText.indexOf(":", colon + 1)) {
    let end = colon;
    while (end > 0 && lowerText[end - 1] === " ") end--;
    for (const needle of needles) {
      const at = end - needle.length;
      if (at < 0 || !lowerText.startsWith(needle, at)) continue;
      if (at > 0 && glued(lowerText[at - 1]!, needle[0]!)) continue;
      return { rest: text.slice(colon + 1).trim(), index: at };
    }
  }
  return null;
}

/** A line of text and its lowerSameLength form (which may be computed on first use). */
export interface SearchableText {
  readonly text: string;
  readonly lower: string;
  /**
   * The lowercased character right before each colon of `text`, when known without computing
   * `text` (see BodyLine.colonLeads); null when unknown.
   */
  colonLeads?(): string | null;
}

/**
 * Finds one of `labels` followed by optional spaces and ':' in a normalized line,
 * case-insensitively, not glued to a preceding letter or digit (so "電話会議 ID" never matches
 * "会議 ID"). Works from each colon backwards, so lines without a colon cost one indexOf, and
 * the lowercased line is only read when the character before a colon can end a label.
 */
export function findLabel(line: SearchableText, labels: readonly string[]): LabelHit | null {
  const { needles, lastAscii } = prepared(labels);
  // A label ends right before a colon (spaces aside): a line whose colons all follow a character
  // that ends no label has none, and its text need not even be computed.
  const leads = line.colonLeads?.() ?? null;
  if (leads !== null) {
    let k = 0;
    while (k < leads.length && lastAscii[leads.charCodeAt(k)] === 0) k++;
    if (k === leads.length) return null;
  }
  const text = line.text;
  let colon = text.indexOf(":");
  if (colon < 0) return null;
  for (; colon >= 0; colon = text.indexOf(":", colon + 1)) {
    // lowerSameLength keeps every index, and ASCII lowercases to ASCII: the text can be read here.
    let end = colon;
    while (end > 0 && text.charCodeAt(end - 1) === 32) end--;
    if (end === 0) continue;
    const c = text.charCodeAt(end - 1);
    if (c < 128 && lastAscii[c >= 65 && c <= 90 ? c + 32 : c] === 0) continue;
    const lowerLine = line.lower;
    for (const needle of needles) {
      const at = end - needle.length;
      if (at < 0 || !lowerLine.startsWith(needle, at)) continue;
      if (at > 0 && glued(lowerLine[at - 1]!, needle[0]!)) continue;
      return { rest: text.slice(colon + 1).trim(), index: at };
    }
  }
  return null;
}

/** True when the normalized line contains one of the phrases (case-insensitive). */
export function containsPhrase(lowerLine: string, phrases: readonly string[]): boolean {
  for (const p of prepared(phrases).needles) if (lowerLine.includes(p)) return true;
  return false;
}
