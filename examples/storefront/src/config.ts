// Runtime configuration, read from config.json beside index.html, so one build serves any
// deployment: the API's base URL, and the OpenID Connect issuer and client used to sign in.

/** What config.json holds. */
export interface Config {
  /** The bookstore API, e.g. https://api.example.com (no trailing slash needed). */
  apiBaseUrl: string;
  /** The OIDC issuer; its discovery document is at <issuer>/.well-known/openid-configuration. */
  issuer: string;
  /** The public client registered for this app at the issuer (authorization code + PKCE). */
  clientId: string;
  /** The scopes to ask for: `openid` plus the API's write scope. */
  scope: string;
  /** An RFC 8707 resource indicator for the API, for issuers that use one (not Cognito). */
  resource?: string;
  /** Where the issuer sends the browser back; default: this page's origin + "/". */
  redirectUri?: string;
}

function requireString(raw: Record<string, unknown>, key: keyof Config): string {
  const value = raw[key];
  if (typeof value !== "string" || value === "") throw new Error(`config.json: "${key}" must be a non-empty string`);
  return value;
}

/** Loads and checks config.json. */
export async function loadConfig(): Promise<Config> {
  const response = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const raw = (await response.json()) as Record<string, unknown>;
  const optional = (key: keyof Config) => (raw[key] === undefined || raw[key] === "" ? undefined : requireString(raw, key));
  return {
    apiBaseUrl: requireString(raw, "apiBaseUrl").replace(/\/+$/, ""),
    issuer: requireString(raw, "issuer"),
    clientId: requireString(raw, "clientId"),
    scope: requireString(raw, "scope"),
    resource: optional("resource"),
    redirectUri: optional("redirectUri") ?? `${location.origin}/`,
  };
}
