// Timed lyrics: a take's LRC file (`[mm:ss.xx]line`, GET /songs/{id} `takes[].lyrics_timing_url`)
// shown as a list whose current line follows the player.

/** One timed line; an empty `text` marks a pause in the singing (no line is current then). */
export interface TimedLine {
  start: number;
  text: string;
}

const STAMP = /^\[(\d+):(\d{2}(?:\.\d+)?)\](.*)$/;

/** The LRC body's timed lines in time order; tag lines (`[ti:...]`, `[length:...]`) are skipped. */
export function parseLrc(body: string): TimedLine[] {
  const lines: TimedLine[] = [];
  for (const raw of body.split(/\r?\n/)) {
    const match = STAMP.exec(raw.trim());
    if (match) lines.push({ start: Number(match[1]) * 60 + Number(match[2]), text: match[3].trim() });
  }
  return lines.sort((a, b) => a.start - b.start);
}

/** The index of the line sung at `time` seconds, or -1 (before the first line, or in a pause). */
export function currentLine(lines: TimedLine[], time: number): number {
  let index = -1;
  for (let i = 0; i < lines.length && lines[i].start <= time; i++) index = i;
  return index >= 0 && lines[index].text ? index : -1;
}

/** Fetch and render the LRC file into `target` (replacing the plain lyrics there), and mark the
 * current line while `audio` plays or seeks. Plain lyrics stay when the file cannot be read. */
export async function showTimedLyrics(url: string, target: HTMLElement, audio: HTMLAudioElement): Promise<void> {
  let lines: TimedLine[];
  try {
    const response = await fetch(url);
    if (!response.ok) return;
    lines = parseLrc(await response.text());
  } catch {
    return;
  }
  const sung = lines.filter((line) => line.text);
  if (!sung.length || !target.isConnected) return;
  const list = document.createElement("ol");
  list.className = "lyrics timed";
  list.setAttribute("aria-label", "Lyrics, following the song");
  const items = lines.map((line) => {
    const item = document.createElement("li");
    item.dataset.start = line.start.toFixed(2);
    item.textContent = line.text;
    if (!line.text) item.hidden = true;
    list.appendChild(item);
    return item;
  });
  target.replaceChildren(list);
  let shown = -2;
  const follow = () => {
    const now = currentLine(lines, audio.currentTime);
    if (now === shown) return;
    if (shown >= 0) {
      items[shown].classList.remove("current");
      items[shown].removeAttribute("aria-current");
    }
    if (now >= 0) {
      items[now].classList.add("current");
      items[now].setAttribute("aria-current", "true");
    }
    shown = now;
  };
  // Properties, not listeners: a re-render that keeps the player replaces the previous follower.
  audio.ontimeupdate = follow;
  audio.onseeked = follow;
  follow();
}
