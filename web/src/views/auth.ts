// Sign in, create an account, confirm it with the e-mailed code, TOTP when the user enabled MFA.
import {
  authMessage,
  confirmRegistration,
  register,
  resendCode,
  startSignIn,
  submitTotp,
  type NextStep,
} from "../auth";
import type { Context } from "../context";
import { field, h, replace } from "../dom";

type Screen = "sign-in" | "sign-up" | "confirm" | "totp";

export function renderAuth(root: HTMLElement, ctx: Context, onSignedIn: () => void): void {
  let email = "";

  const show = (screen: Screen, notice?: string) => {
    const error = h("div", { class: "form-error", "aria-live": "assertive" });
    const fail = (e: unknown) => replace(error, h("p", { class: "error", role: "alert" }, authMessage(e)));
    const busy = (form: HTMLFormElement, on: boolean) =>
      form.querySelectorAll("button").forEach((b) => (b.disabled = on));
    const after = (next: { step: NextStep; detail: string }) => {
      if (next.step === "done") onSignedIn();
      else if (next.step === "confirm-sign-up") show("confirm", "Your account is not confirmed yet.");
      else if (next.step === "totp") show("totp");
      else fail(new Error(`Cognito asks for a step this app does not offer: ${next.detail}`));
    };
    const submit = (form: HTMLFormElement, action: () => Promise<void>) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        replace(error);
        busy(form, true);
        try {
          await action();
        } catch (e) {
          fail(e);
        } finally {
          busy(form, false);
        }
      });
      return form;
    };
    const emailInput = () =>
      h("input", { type: "email", name: "email", autocomplete: "username", required: true, value: email });
    const passwordInput = (autocomplete: string) =>
      h("input", { type: "password", name: "password", autocomplete, required: true });
    const tabs = h(
      "nav",
      { class: "tabs", "aria-label": "Account" },
      h("button", { type: "button", "aria-pressed": String(screen === "sign-in"), onclick: () => show("sign-in") }, "Sign in"),
      h("button", { type: "button", "aria-pressed": String(screen === "sign-up"), onclick: () => show("sign-up") }, "Create account"),
    );

    let form: HTMLFormElement;
    let heading: string;
    if (screen === "sign-in") {
      heading = "Sign in";
      const e = emailInput();
      const p = passwordInput("current-password");
      form = submit(h("form", { "aria-labelledby": "auth-title" }, field("E-mail", e), field("Password", p),
        h("button", { type: "submit", class: "primary" }, "Sign in")), async () => {
        email = e.value.trim();
        after(await startSignIn(email, p.value));
      });
    } else if (screen === "sign-up") {
      heading = "Create an account";
      const e = emailInput();
      const p = passwordInput("new-password");
      form = submit(h("form", { "aria-labelledby": "auth-title" }, field("E-mail", e),
        field("Password", p, "At least 12 characters with upper and lower case letters, a digit and a symbol."),
        h("button", { type: "submit", class: "primary" }, "Create account")), async () => {
        email = e.value.trim();
        const destination = await register(email, p.value);
        show("confirm", destination ? `We sent a code to ${destination}.` : undefined);
      });
    } else if (screen === "confirm") {
      heading = "Confirm your e-mail";
      const e = emailInput();
      const code = h("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true });
      form = submit(h("form", { "aria-labelledby": "auth-title" }, field("E-mail", e),
        field("Confirmation code", code, ctx.config.confirmationHint ?? "The code from the e-mail we sent you."),
        h("div", { class: "row" },
          h("button", { type: "submit", class: "primary" }, "Confirm"),
          h("button", { type: "button", onclick: async () => {
            try { await resendCode(e.value.trim()); ctx.announce("A new code is on its way."); } catch (err) { fail(err); }
          } }, "Send a new code"))), async () => {
        email = e.value.trim();
        await confirmRegistration(email, code.value.trim());
        show("sign-in", "Account confirmed. Sign in with your password.");
      });
    } else {
      heading = "Two-step verification";
      const code = h("input", { type: "text", name: "totp", inputmode: "numeric", autocomplete: "one-time-code", required: true });
      form = submit(h("form", { "aria-labelledby": "auth-title" }, field("Code from your authenticator app", code),
        h("button", { type: "submit", class: "primary" }, "Verify")), async () => after(await submitTotp(code.value.trim())));
    }

    replace(root, h("section", { class: "card auth" },
      screen === "sign-in" || screen === "sign-up" ? tabs : null,
      h("h1", { id: "auth-title", tabindex: "-1" }, heading),
      notice ? h("p", { class: "notice", role: "status" }, notice) : null,
      form, error));
    (root.querySelector("h1") as HTMLElement).focus();
  };

  show("sign-in");
}
