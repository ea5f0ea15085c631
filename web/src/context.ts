import type { Api } from "./api";
import type { AppConfig } from "./config";

/** What every screen gets from the shell. */
export interface Context {
  api: Api;
  config: AppConfig;
  navigate(path: string): void;
  refreshCredits(): Promise<void>;
  /** Called when the screen is left (stops its polling). */
  onLeave(cleanup: () => void): void;
  /** Announce a short message to screen readers and show it in the status line. */
  announce(message: string): void;
}
