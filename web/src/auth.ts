// Cognito sign-in through Amplify Auth (AWS-maintained; SRP maths and token refresh are its job).
import { Amplify } from "aws-amplify";
import {
  confirmSignIn,
  confirmSignUp,
  fetchAuthSession,
  getCurrentUser,
  resendSignUpCode,
  signIn,
  signOut,
  signUp,
  type SignInOutput,
} from "aws-amplify/auth";
import type { AppConfig } from "./config";

let authFlow: AppConfig["authFlow"] = "USER_SRP_AUTH";

export function configureAuth(config: AppConfig): void {
  authFlow = config.authFlow;
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: config.userPoolId,
        userPoolClientId: config.userPoolClientId,
        // Set only for the local stack (moto); Amplify derives the AWS endpoint from the pool id.
        ...(config.userPoolEndpoint ? { userPoolEndpoint: config.userPoolEndpoint } : {}),
        loginWith: { email: true },
        signUpVerificationMethod: "code",
      },
    },
  });
}

/** What the sign-in screen must ask for next. */
export type NextStep = "done" | "confirm-sign-up" | "totp" | "unsupported";

function nextStep(output: SignInOutput): { step: NextStep; detail: string } {
  const step = output.nextStep.signInStep;
  switch (step) {
    case "DONE":
      return { step: "done", detail: "" };
    case "CONFIRM_SIGN_UP":
      return { step: "confirm-sign-up", detail: "" };
    case "CONFIRM_SIGN_IN_WITH_TOTP_CODE":
      return { step: "totp", detail: "" };
    default:
      return { step: "unsupported", detail: step };
  }
}

export async function startSignIn(username: string, password: string) {
  return nextStep(await signIn({ username, password, options: { authFlowType: authFlow } }));
}

export async function submitTotp(code: string) {
  return nextStep(await confirmSignIn({ challengeResponse: code }));
}

export async function register(email: string, password: string): Promise<string | undefined> {
  const result = await signUp({ username: email, password, options: { userAttributes: { email } } });
  return result.nextStep.signUpStep === "CONFIRM_SIGN_UP"
    ? result.nextStep.codeDeliveryDetails?.destination
    : undefined;
}

export async function confirmRegistration(email: string, code: string): Promise<void> {
  await confirmSignUp({ username: email, confirmationCode: code });
}

export async function resendCode(email: string): Promise<void> {
  await resendSignUpCode({ username: email });
}

export async function currentUser(): Promise<string | null> {
  try {
    const user = await getCurrentUser();
    return user.signInDetails?.loginId ?? user.username;
  } catch {
    return null;
  }
}

export async function idToken(): Promise<string> {
  // Amplify refreshes an expired id token with the refresh token before handing it out.
  const session = await fetchAuthSession();
  const token = session.tokens?.idToken?.toString();
  if (!token) throw new Error("You are signed out. Sign in again.");
  return token;
}

export async function logOut(): Promise<void> {
  await signOut();
}

/** Cognito's own wording (Amplify passes the service's message through). */
export function authMessage(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  return String(error);
}
