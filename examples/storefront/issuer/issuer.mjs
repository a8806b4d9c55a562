// A local OpenID Connect issuer for the storefront: oidc-provider (a certified OpenID Provider
// implementation from npm), configured with one user, one public client (authorization code + PKCE)
// and one resource server, the bookstore API, whose access tokens are RS256 JWTs carrying
// `aud` = the API's resource indicator and `scope` = bookstore/write. That is what the service
// checks (BOOKSTORE_OIDC_ISSUER / BOOKSTORE_OIDC_AUDIENCE / BOOKSTORE_WRITE_SCOPE).
//
//   node issuer/issuer.mjs --port 9582 --redirect-uri http://127.0.0.1:9580/ \
//        --resource http://127.0.0.1:9581 [--client-id storefront] [--user reader --password ...]
//        [--machine-client bench --machine-secret S]
//
// `--machine-client` adds a confidential client with the client-credentials grant, for programs that
// write without a person signing in (the benchmark's JWT writes): POST /token with
// `grant_type=client_credentials`, `resource` and `scope`, authenticated with HTTP Basic.
//
// It listens on 127.0.0.1 only and keeps everything (keys, sessions, grants) in memory: a restart
// forgets them, so tokens issued before it no longer verify. For local development and tests only.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import Provider, { errors } from 'oidc-provider';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: '9582' },
    'redirect-uri': { type: 'string', multiple: true },
    resource: { type: 'string' },
    scope: { type: 'string', default: 'bookstore/write' },
    'client-id': { type: 'string', default: 'storefront' },
    user: { type: 'string', default: 'reader' },
    password: { type: 'string' },
    'machine-client': { type: 'string' },
    'machine-secret': { type: 'string' },
  },
});
if (Boolean(opt['machine-client']) !== Boolean(opt['machine-secret'])) {
  console.error('issuer: --machine-client and --machine-secret go together');
  process.exit(2);
}
if (!opt['redirect-uri'] || !opt.resource) {
  console.error('usage: issuer.mjs --port N --redirect-uri URL [--redirect-uri URL ...] --resource URL'
    + ' [--scope S] [--client-id ID] [--user NAME --password PW]');
  process.exit(2);
}

const issuer = `http://127.0.0.1:${opt.port}`;
const resource = opt.resource;
const writeScope = opt.scope;
const user = { sub: randomUUID(), name: opt.user, password: opt.password || randomBytes(9).toString('base64url') };

// One signing key per run, RS256: the service accepts RS256 and ES256.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: opt['client-id'],
    // A browser app cannot keep a secret: a public client, and PKCE below is what protects the code.
    token_endpoint_auth_method: 'none',
    application_type: 'web',
    redirect_uris: opt['redirect-uri'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }, ...(opt['machine-client'] ? [{
    client_id: opt['machine-client'],
    client_secret: opt['machine-secret'],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  }] : [])],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  pkce: { required: () => true },
  responseTypes: ['code'],
  scopes: ['openid', 'profile'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
  async findAccount(_ctx, id) {
    if (id !== user.sub) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, name: user.name, preferred_username: user.name }) };
  },
  // The app is first-party: signing in is the consent, so the grant covers what it asked for.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile');
    grant.addResourceScope(resource, writeScope);
    await grant.save();
    return grant;
  },
  // Browsers call discovery, the token and the JWKS endpoints cross-origin: allow the client's origins.
  clientBasedCORS(_ctx, origin, client) {
    return client.redirectUris.some((uri) => new URL(uri).origin === origin);
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: Boolean(opt['machine-client']) },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      async getResourceServerInfo(_ctx, indicator) {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope: writeScope,
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: { AccessToken: 3600, ClientCredentials: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600 },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Sign-in error', `<p class="error">${esc(out.error)}: ${esc(out.error_description || '')}</p>`);
  },
});

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#b00020}</style></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;
}

function loginForm(uid, clientId, error = '') {
  return page('Sign in to the bookstore', `
<p>The app <code>${esc(clientId)}</code> asks to edit books on your behalf.</p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
  <label for="username">Username</label><input id="username" name="username" required autofocus>
  <label for="password">Password</label><input id="password" name="password" type="password" required>
  <button type="submit">Sign in</button>
</form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 4096) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

// The login step of oidc-provider's interaction: a form, checked against the one user.
async function interaction(req, res, uid, submit) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.SessionNotFound('interaction does not match the session');
  res.setHeader('Cache-Control', 'no-store');
  if (!submit) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(loginForm(uid, details.params.client_id));
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { Allow: 'POST' }).end();
    return;
  }
  const form = await readForm(req);
  if (form.get('username') !== user.name || form.get('password') !== user.password) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(loginForm(uid, details.params.client_id, 'Wrong username or password.'));
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = createServer((req, res) => {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(new URL(req.url, issuer).pathname);
  if (!match) {
    callback(req, res);
    return;
  }
  interaction(req, res, match[1], Boolean(match[2])).catch((err) => {
    console.error(`issuer: interaction failed: ${err.message}`);
    if (!res.headersSent) res.writeHead(400, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(page('Sign-in error', `<p class="error">${esc(err.message)}</p><p>Start again from the app.</p>`));
  });
});

server.listen(Number(opt.port), '127.0.0.1', () => {
  console.log(`issuer: ${issuer} (client ${opt['client-id']}, resource ${resource}, scope ${writeScope})`);
  console.log(`issuer: user "${user.name}", password "${user.password}"`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
