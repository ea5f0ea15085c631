// The account's personal API keys: the list (never a secret), a new key (its secret shown this
// once, with a copy button and a warning), and revocation after a confirmation.
import type { ApiKey, NewApiKey } from "../api";
import type { Context } from "../context";
import { h, replace } from "../dom";
import { errorBox, when } from "../ui";

// How long API Gateway may still accept a revoked key (the authorizer's cache, docs/api.md).
const REVOCATION_DELAY = "5 minutes";
const EXPIRY_CHOICES: [string, number | null][] = [["Never", null], ["30 days", 30], ["90 days", 90], ["1 year", 365]];

export function apiKeysSection(ctx: Context): HTMLElement {
  const list = h("div", { "aria-live": "polite" });
  const created = h("div");
  const problem = h("div");
  const name = h("input", { type: "text", id: "key-name", required: true, maxlength: "100", autocomplete: "off" });
  const expiry = h("select", { id: "key-expiry" },
    EXPIRY_CHOICES.map(([label, days]) => h("option", { value: days === null ? "" : String(days) }, label)));

  // The list is read from an index that may lag a write by a moment: the key just created is
  // shown, and the one just revoked is not, whatever that read returns.
  const load = async (change: { added?: ApiKey; revoked?: string } = {}) => {
    try {
      const listed = (await ctx.api.listApiKeys()).filter((key) => key.key_id !== change.revoked);
      const added = change.added;
      const keys = added && !listed.some((key) => key.key_id === added.key_id) ? [...listed, added] : listed;
      replace(list, keys.length
        ? h("ul", { class: "keys" }, keys.map((key) => keyItem(key)))
        : h("p", { class: "hint" }, "No API keys yet."));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };

  const keyItem = (key: ApiKey) => {
    const revoke = async () => {
      const warning = `Revoke the API key "${key.name}"? Scripts that use it stop working (within ${REVOCATION_DELAY}).`;
      if (!window.confirm(warning)) return;
      replace(problem);
      try {
        await ctx.api.revokeApiKey(key.key_id);
        ctx.announce(`The API key "${key.name}" is revoked.`);
        await load({ revoked: key.key_id });
      } catch (error) {
        replace(problem, errorBox(error));
      }
    };
    return h("li", { class: "key", "data-key-id": key.key_id },
      h("p", {}, h("strong", {}, key.name), " ", h("code", {}, `${key.prefix}_…`)),
      h("p", { class: "hint" },
        `Created ${when(key.created_at)} · expires ${orNever(key.expires_at)} · last used ${orNever(key.last_used_at)}`),
      h("button", { type: "button", class: "danger", onclick: () => void revoke(), "aria-label": `Revoke ${key.name}` }, "Revoke"));
  };

  const showSecret = (key: NewApiKey) => {
    const secret = h("code", { class: "secret", "data-secret": "" }, key.secret);
    const copied = h("span", { class: "hint", "aria-live": "polite" });
    const copy = async () => {
      try {
        await navigator.clipboard.writeText(key.secret);
        copied.textContent = "Copied.";
      } catch {
        // No clipboard access (an insecure origin, a refused permission): select it for Ctrl+C.
        window.getSelection()?.selectAllChildren(secret);
        copied.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
      }
    };
    replace(created, h("div", { class: "notice new-key", role: "status" },
      h("p", {}, h("strong", {}, `Your new API key "${key.name}". Copy it now: it is shown only this once.`)),
      h("p", {}, secret),
      h("div", { class: "row" }, h("button", { type: "button", onclick: () => void copy() }, "Copy the key"), copied),
      h("p", {}, "Anyone with this key can make songs with your credits. Keep it out of code and chats; "
        + "revoke it here if it leaks.")));
  };

  const create = async (event: Event) => {
    event.preventDefault();
    replace(problem);
    const days = expiry.value ? Number(expiry.value) : null;
    try {
      const key = await ctx.api.createApiKey(name.value.trim(), days);
      name.value = "";
      showSecret(key);
      const { secret: _secret, ...listed } = key;
      await load({ added: listed });
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  void load();
  return h("section", { class: "card", "aria-labelledby": "keys-title" },
    h("h2", { id: "keys-title" }, "API keys"),
    h("p", {}, "Scripts, the Python client and the songs command line use a key instead of your password: send it as ",
      h("code", {}, "Authorization: Bearer <key>"), ". It acts as you everywhere except here."),
    list,
    h("form", { onsubmit: (event: Event) => void create(event) },
      h("div", { class: "grid" },
        h("div", { class: "field" }, h("label", { for: "key-name" }, "Key name"), name),
        h("div", { class: "field" }, h("label", { for: "key-expiry" }, "Expires after"), expiry)),
      h("button", { type: "submit", class: "primary" }, "Create a key")),
    created,
    problem);
}

function orNever(timestamp: string | null | undefined): string {
  return timestamp ? when(timestamp) : "never";
}
