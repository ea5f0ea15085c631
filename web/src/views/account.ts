// The account: credits in full, personal API keys (views/keys.ts), and the webhook signing
// secret (shown on request, rotated with a confirmation) for songs created with a webhook URL.
import type { WebhookSecret } from "../api";
import type { Context } from "../context";
import { h, replace } from "../dom";
import { errorBox } from "../ui";
import { apiKeysSection } from "./keys";

export function renderAccount(root: HTMLElement, ctx: Context): void {
  const credits = h("dl", { class: "facts" });
  const creditsError = h("div");
  const secretArea = h("div", { "aria-live": "polite" });
  const secretError = h("div");
  let secret: string | null = null;

  const showSecret = (value: string) => {
    secret = value;
    replace(secretArea, h("p", {}, h("code", { class: "secret", "data-secret": "" }, value)));
  };
  const load = async (action: () => Promise<WebhookSecret>, done?: string) => {
    replace(secretError);
    try {
      showSecret((await action()).secret);
      if (done) ctx.announce(done);
    } catch (error) {
      replace(secretError, errorBox(error));
    }
  };
  const rotate = () => {
    const warning = "Rotate the webhook secret? Deliveries are signed with the new one at once, retries of earlier events too: update your receiver.";
    if (window.confirm(warning)) void load(() => ctx.api.rotateWebhookSecret(), "A new webhook secret is in use.");
  };

  replace(root,
    h("p", { class: "back" }, h("a", { href: "/" }, "← Your songs")),
    h("h1", { tabindex: "-1" }, "Account"),
    h("section", { class: "card", "aria-labelledby": "credits-title" },
      h("h2", { id: "credits-title" }, "Credits"), credits, creditsError),
    apiKeysSection(ctx),
    h("section", { class: "card", "aria-labelledby": "webhooks-title" },
      h("h2", { id: "webhooks-title" }, "Webhooks"),
      h("p", {}, "A song created with a webhook URL (in its advanced settings) sends its events there: processing, processed, "
        + "failed, canceled. Each delivery is signed per Standard Webhooks with this secret."),
      secretArea,
      h("div", { class: "row" },
        h("button", { type: "button", onclick: () => (secret ? showSecret(secret) : void load(() => ctx.api.webhookSecret())) },
          "Show the secret"),
        h("button", { type: "button", class: "danger", onclick: rotate }, "Rotate the secret")),
      secretError));

  void (async () => {
    try {
      const me = await ctx.api.me();
      replace(credits,
        h("dt", {}, "Balance"), h("dd", { "data-credits": "balance" }, String(me.credits)),
        h("dt", {}, "Held by songs in progress"), h("dd", {}, String(me.reserved_credits)),
        h("dt", {}, "Available"), h("dd", {}, String(me.available_credits)));
    } catch (error) {
      replace(creditsError, errorBox(error));
    }
  })();
}
