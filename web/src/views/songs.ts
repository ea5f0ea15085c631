// Home: the new-song form and the caller's songs, newest first, a page at a time, live status.
import type { SongPage } from "../api";
import type { Context } from "../context";
import { h, replace } from "../dom";
import { errorBox, isActive, poll, songTitle, statusBadge, when } from "../ui";
import { renderCreateForm } from "./create";

const PAGE_SIZE = 10;
const POLL_MS = 2000;

export function renderSongs(root: HTMLElement, ctx: Context): void {
  // Page tokens seen so far: tokens[i] fetches page i (page 0 has none).
  const tokens: (string | undefined)[] = [undefined];
  let pageIndex = 0;
  let stopPolling: (() => void) | null = null;
  let activeBefore = 0;

  const list = h("ol", { class: "songs", "aria-label": "Your songs" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages of songs" });
  const errorArea = h("div");
  const section = h("section", { class: "card", "aria-labelledby": "songs-title" },
    h("h2", { id: "songs-title" }, "Your songs"), errorArea, list, pager);

  const load = async (): Promise<SongPage | null> => {
    try {
      const page = await ctx.api.listSongs(PAGE_SIZE, tokens[pageIndex]);
      replace(errorArea);
      show(page);
      return page;
    } catch (error) {
      replace(errorArea, errorBox(error));
      return null;
    }
  };

  const show = (page: SongPage) => {
    tokens[pageIndex + 1] = page.next_token ?? undefined;
    replace(list, page.songs.length ? page.songs.map(item) : h("li", { class: "empty" }, "No songs yet: make your first one above."));
    const paged = pageIndex > 0 || !!page.next_token;
    replace(pager, !paged ? null : [
      h("button", { type: "button", disabled: pageIndex === 0, onclick: () => go(pageIndex - 1) }, "Newer"),
      h("span", {}, `Page ${pageIndex + 1}`),
      h("button", { type: "button", disabled: !page.next_token, onclick: () => go(pageIndex + 1) }, "Older"),
    ]);
    const active = page.songs.filter(isActive).length;
    if (active < activeBefore) void ctx.refreshCredits(); // a song finished: credits moved
    activeBefore = active;
    if (active && !stopPolling) {
      stopPolling = poll(async () => {
        const fresh = await load();
        const again = !!fresh && fresh.songs.some(isActive);
        if (!again) stopPolling = null;
        return again;
      }, POLL_MS);
    }
  };

  const item = (song: SongPage["songs"][number]) =>
    h("li", { class: "song", "data-song-id": song.job_id },
      h("a", { href: `/songs/${song.job_id}`, class: "song-link" }, songTitle(song)),
      statusBadge(song),
      h("time", { datetime: song.created_at }, when(song.created_at)),
      song.status === "failed" && song.error ? h("p", { class: "reason" }, song.error.message) : null);

  const go = async (index: number) => {
    pageIndex = index;
    await load();
    (section.querySelector("h2") as HTMLElement).scrollIntoView({ block: "nearest" });
  };

  const restartPolling = () => {
    stopPolling?.();
    stopPolling = null;
  };
  ctx.onLeave(() => stopPolling?.());

  // The song page's "Use as a source" link: /?source=<song id>.
  const sourceSongId = new URLSearchParams(location.search).get("source") ?? undefined;
  const form = renderCreateForm(ctx, async (song) => {
    pageIndex = 0;
    restartPolling();
    // Show the new song at once, as the API answered it (queued), then refresh the page.
    list.querySelector(".empty")?.remove();
    list.prepend(item(song));
    await Promise.all([load(), ctx.refreshCredits()]);
  }, { sourceSongId });
  replace(root, h("h1", { class: "visually-hidden", tabindex: "-1" }, "Songs"), form, section);
  void load();
}
