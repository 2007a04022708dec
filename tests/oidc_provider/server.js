// A real OpenID provider (the `oidc-provider` package) on loopback, for the test suite only.
//
//   node server.js            listens on a free port of 127.0.0.1 and prints one JSON line
//                             {"issuer": "http://127.0.0.1:PORT"} once it serves.
//
// One static confidential client (CLIENT_ID / CLIENT_SECRET below, client_secret_basic, RS256
// ID tokens), redirect URIs on loopback or the Django test client's host at /oidc/callback/
// with any port (the test server's port is chosen at run time). People sign in on a plain form
// (username, password); the account's claims (email, names, groups, amr) are what
// ACCOUNTS says, and the tests change them through PUT /test/accounts/:id (loopback only,
// this file is never deployed).
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

export const CLIENT_ID = 'incident-case-system';
export const CLIENT_SECRET = 'test-client-secret-of-the-loopback-provider';

const seed = () => ({
  'staff-sub-1': {
    username: 'alex', password: 'alex-pw', amr: ['pwd', 'mfa'],
    claims: {
      email: 'alex.morgan@example.org', email_verified: true, given_name: 'Alex',
      family_name: 'Morgan', name: 'Alex Morgan', preferred_username: 'alex',
      groups: ['all-staff', 'Finance'],
    },
  },
  'coord-sub-2': {
    username: 'casey', password: 'casey-pw', amr: ['pwd'],
    claims: {
      email: 'casey@example.org', email_verified: true, given_name: 'Casey',
      family_name: 'Rivera', name: 'Casey Rivera', preferred_username: 'casey',
      groups: ['all-staff', 'ir-coordinators'],
    },
  },
});
let ACCOUNTS = seed();

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

const CALLBACK = /^http:\/\/(127\.0\.0\.1|localhost|testserver)(:\d+)?\/oidc\/callback\/$/;
const AFTER_LOGOUT = /^http:\/\/(127\.0\.0\.1|localhost|testserver)(:\d+)?\/.*$/;

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1>${body}</body></html>`;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return Object.fromEntries(new URLSearchParams(raw));
}

async function readJson(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return JSON.parse(raw || '{}');
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: ['http://127.0.0.1/oidc/callback/'],
      post_logout_redirect_uris: ['http://127.0.0.1/'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      require_auth_time: true,
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: ['loopback-test-provider-cookie-key'] },
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    claims: {
      acr: null, amr: null, auth_time: null, sid: null,
      openid: ['sub', 'amr', 'acr'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      groups: ['groups'],
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = page('Sign out of the test provider', `${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = page('Signed out of the test provider', '');
        },
      },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // First-party client: no consent screen, every scope it asks for is granted.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        const found = await ctx.oidc.provider.Grant.find(grantId);
        if (found) return found;
      }
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile groups');
      await grant.save();
      return grant;
    },
    findAccount: async (ctx, id) => {
      const account = ACCOUNTS[id];
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account.claims }) };
    },
    pkce: { required: () => true },
  });
  provider.proxy = false;
  provider.Client.prototype.redirectUriAllowed = (uri) => CALLBACK.test(uri);
  provider.Client.prototype.postLogoutRedirectUriAllowed = (uri) => AFTER_LOGOUT.test(uri);

  const handle = provider.callback();
  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      const test = url.pathname.match(/^\/test\/accounts\/([^/]+)$/);
      if (url.pathname === '/test/reset' && req.method === 'POST') {
        ACCOUNTS = seed();
        res.writeHead(204).end();
        return;
      }
      if (test && req.method === 'PUT') {
        const change = await readJson(req);
        const id = decodeURIComponent(test[1]);
        const account = ACCOUNTS[id] || { username: id, password: `${id}-pw`, amr: ['pwd'], claims: {} };
        ACCOUNTS[id] = {
          ...account, ...change, claims: change.claims || account.claims,
        };
        res.writeHead(204).end();
        return;
      }
      const interaction = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
      if (interaction) {
        const details = await provider.interactionDetails(req, res);
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(page('Sign in to the test provider', `
<form method="post" action="/interaction/${escape(details.uid)}/login">
  <label for="username">Username</label> <input id="username" name="username" autofocus>
  <label for="password">Password</label> <input id="password" name="password" type="password">
  <button type="submit">Continue</button>
</form>`));
          return;
        }
        const form = await readForm(req);
        const found = Object.entries(ACCOUNTS).find(
          ([, account]) => account.username === form.username && account.password === form.password,
        );
        if (!found) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(page('Sign in to the test provider', '<p role="alert">Wrong username or password.</p>'));
          return;
        }
        const [accountId, account] = found;
        await provider.interactionFinished(req, res, {
          login: { accountId, amr: account.amr, acr: 'urn:test:loa:1' },
        }, { mergeWithLastSubmission: false });
        return;
      }
      handle(req, res);
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error && error.stack));
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET })}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
