// Sign-in: OpenID Connect authorization code with PKCE (oauth4webapi), in a pop-up window so this
// page, and the access token it receives, never leave memory: no localStorage, no sessionStorage,
// no cookie. The pop-up comes back to this app's origin and hands the callback URL to the opener
// with postMessage (same origin only); the code is redeemed here, with the verifier kept here.

import * as oauth from "oauth4webapi";
import type { Config } from "./config";

/** The signed-in user, with the access token for the API. */
export interface Session {
  accessToken: string;
  expiresAt: number;
  name: string;
}

const CALLBACK_CHANNEL = "bookstore-oidc-callback";

function isLoopback(url: URL): boolean {
  return ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

/** If this window is the sign-in pop-up coming back, hands the result to the app and closes. */
export function completePopupCallback(): boolean {
  const params = new URLSearchParams(location.search);
  if (!params.has("state") || !(params.has("code") || params.has("error"))) return false;
  const channel = new BroadcastChannel(CALLBACK_CHANNEL);
  channel.postMessage(location.href);
  channel.close();
  // Drop the code from the address bar, in case this window stays open.
  history.replaceState(null, "", location.pathname);
  document.body.textContent = "Signed in: you can close this window.";
  window.close();
  return true;
}

function waitForCallback(popup: Window, state: string): Promise<URL> {
  return new Promise((resolve, reject) => {
    const channel = new BroadcastChannel(CALLBACK_CHANNEL);
    // The pop-up closes itself right after it posts, so give its message a moment to arrive.
    let closedFor = 0;
    const closed = setInterval(() => {
      closedFor = popup.closed ? closedFor + 1 : 0;
      if (closedFor > 2) finish(() => reject(new Error("Sign-in was cancelled (the window was closed).")));
    }, 500);
    channel.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== "string") return;
      const url = new URL(event.data);
      // Another tab's sign-in answers with another state: not ours.
      if (url.origin !== location.origin || url.searchParams.get("state") !== state) return;
      finish(() => resolve(url));
    };
    function finish(settle: () => void) {
      clearInterval(closed);
      channel.close();
      settle();
    }
  });
}

/** Runs the whole sign-in; resolves with the session once the code is redeemed. */
export async function signIn(config: Config): Promise<Session> {
  const issuer = new URL(config.issuer);
  // oauth4webapi refuses plain http unless told; allow it only for an issuer on this machine.
  const http = issuer.protocol === "http:" && isLoopback(issuer) ? { [oauth.allowInsecureRequests]: true } : {};
  const client: oauth.Client = { client_id: config.clientId };
  const redirectUri = config.redirectUri ?? `${location.origin}/`;

  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  // Opened first, while the click still counts as a user gesture, so no pop-up blocker stops it.
  const popup = window.open("about:blank", "bookstore-sign-in", "popup,width=520,height=680");
  if (!popup) throw new Error("The sign-in window was blocked: allow pop-ups for this page and try again.");
  try {
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...http }),
    );
    if (!as.authorization_endpoint) throw new Error("The issuer has no authorization endpoint");
    const authorize = new URL(as.authorization_endpoint);
    const query: Record<string, string> = {
      client_id: config.clientId,
      redirect_uri: redirectUri,
      response_type: "code",
      scope: config.scope,
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    };
    if (config.resource) query.resource = config.resource;
    for (const [k, v] of Object.entries(query)) authorize.searchParams.set(k, v);
    popup.location.href = authorize.href;

    const callback = await waitForCallback(popup, state);
    const params = oauth.validateAuthResponse(as, client, callback, state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, {
      ...http,
      additionalParameters: config.resource ? { resource: config.resource } : undefined,
    });
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: nonce,
      requireIdToken: true,
    });
    const claims: Record<string, unknown> = oauth.getValidatedIdTokenClaims(result) ?? {};
    const name = [claims.name, claims.preferred_username, claims["cognito:username"], claims.email, claims.sub].find(
      (v): v is string => typeof v === "string" && v !== "",
    );
    return {
      accessToken: result.access_token,
      expiresAt: Date.now() + (result.expires_in ?? 3600) * 1000,
      name: name ?? "signed in",
    };
  } finally {
    if (!popup.closed) popup.close();
  }
}
