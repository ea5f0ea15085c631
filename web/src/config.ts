// Runtime settings, read from /config.json (written at deploy time by the CDK app, or by the local
// stack). Nothing environment-specific is compiled into the bundle.
export interface AppConfig {
  apiUrl: string; // the API stage URL, e.g. https://abc.execute-api.us-east-1.amazonaws.com/v1/
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  // Only for the local stack (Cognito in moto); unset = the real regional Cognito endpoint.
  userPoolEndpoint?: string;
  // USER_SRP_AUTH on AWS (the password never leaves the browser). USER_PASSWORD_AUTH locally:
  // moto's SRP challenge does not check the password proof.
  authFlow: "USER_SRP_AUTH" | "USER_PASSWORD_AUTH";
  // Text shown on the confirm-sign-up form (the local stack says where the code comes from).
  confirmationHint?: string;
}

const REQUIRED = ["apiUrl", "region", "userPoolId", "userPoolClientId", "authFlow"] as const;

export async function loadConfig(): Promise<AppConfig> {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json could not be loaded (HTTP ${response.status})`);
  const config = (await response.json()) as Partial<AppConfig>;
  const missing = REQUIRED.filter((key) => !config[key]);
  if (missing.length) throw new Error(`config.json lacks ${missing.join(", ")}`);
  return { ...(config as AppConfig), apiUrl: config.apiUrl!.replace(/\/?$/, "/") };
}
