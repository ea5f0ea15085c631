// The shell: load config.json, configure Amplify, route between screens (History API paths; the
// CDN answers every unknown path with index.html), keep the credits line current.
import "./styles.css";
import { Api } from "./api";
import { configureAuth, currentUser, logOut } from "./auth";
import { loadConfig } from "./config";
import type { Context } from "./context";
import { h, replace } from "./dom";
import { errorBox } from "./ui";
import { renderAccount } from "./views/account";
import { renderAuth } from "./views/auth";
import { renderPersonas } from "./views/personas";
import { renderSong } from "./views/song";
import { renderSongs } from "./views/songs";

const app = document.getElementById("app")!;

async function start(): Promise<void> {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    replace(app, h("main", { class: "page" }, h("h1", {}, "The app could not start"), errorBox(error)));
    return;
  }
  configureAuth(config);
  const api = new Api(config);

  const credits = h("p", { class: "credits", "aria-live": "polite", id: "credits" });
  const userLine = h("a", { class: "user", href: "/account", title: "Account: credits and webhooks" });
  const personasLink = h("a", { class: "nav", href: "/personas", hidden: true }, "Personas");
  const signOutButton = h("button", { type: "button", class: "link", hidden: true }, "Sign out");
  const statusLine = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  const main = h("main", { id: "main", class: "page", tabindex: "-1" });
  replace(app,
    h("a", { href: "#main", class: "skip" }, "Skip to content"),
    h("header", { class: "topbar" },
      h("a", { href: "/", class: "brand" }, "Song Studio"),
      h("div", { class: "account" }, credits, personasLink, userLine, signOutButton)),
    statusLine, main);

  let cleanups: (() => void)[] = [];
  let moved = false; // navigated inside the app: move focus to the new screen's heading
  const ctx: Context = {
    api,
    config,
    navigate(path) {
      history.pushState(null, "", path);
      moved = true;
      void route();
    },
    async refreshCredits() {
      try {
        const me = await api.me();
        const parts = [`${me.available_credits} credits available`];
        if (me.reserved_credits) parts.push(`${me.reserved_credits} reserved`);
        credits.textContent = parts.join(" · ");
        credits.dataset.credits = String(me.credits);
      } catch (error) {
        credits.textContent = error instanceof Error ? `Credits unavailable: ${error.message}` : "";
      }
    },
    onLeave(cleanup) {
      cleanups.push(cleanup);
    },
    announce(message) {
      statusLine.textContent = message;
    },
  };

  signOutButton.addEventListener("click", async () => {
    await logOut();
    ctx.navigate("/");
  });

  async function route(): Promise<void> {
    cleanups.forEach((cleanup) => cleanup());
    cleanups = [];
    const user = await currentUser();
    signOutButton.hidden = !user;
    userLine.textContent = user ?? "";
    userLine.hidden = !user; // an empty link has no name
    personasLink.hidden = !user;
    if (!user) {
      credits.textContent = "";
      document.title = "Sign in · Song Studio";
      renderAuth(main, ctx, () => void route());
      return;
    }
    void ctx.refreshCredits();
    const match = location.pathname.match(/^\/songs\/([^/]+)\/?$/);
    const path = location.pathname.replace(/\/$/, "");
    if (path === "/personas") {
      document.title = "Personas · Song Studio";
      renderPersonas(main, ctx, new URLSearchParams(location.search).get("song") ?? undefined);
    } else if (path === "/account") {
      document.title = "Account · Song Studio";
      renderAccount(main, ctx);
    } else if (match) {
      document.title = "Song · Song Studio";
      renderSong(main, ctx, decodeURIComponent(match[1]));
    } else {
      document.title = "Your songs · Song Studio";
      renderSongs(main, ctx);
    }
    if (moved) main.querySelector<HTMLElement>("h1")?.focus();
    moved = false;
  }

  // Same-origin links navigate inside the app (keyboard and mouse alike: both fire click).
  document.addEventListener("click", (event) => {
    const link = (event.target as Element).closest?.("a");
    if (!link || link.origin !== location.origin || link.hasAttribute("download") || link.getAttribute("href")?.startsWith("#")) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    ctx.navigate(link.pathname + link.search);
  });
  window.addEventListener("popstate", () => void route());
  await route();
}

void start();
