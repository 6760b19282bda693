// The XOAUTH2 token provider against a real token endpoint on loopback: one request shared by concurrent
// callers, refreshed before expiry and after a rejection, a failing endpoint not hammered, and the three grants
// (Microsoft client secret, Microsoft certificate, Google service account) as the endpoints expect them.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Secret } from '../../src/config/secret.js';
import type { OAuth2Auth } from '../../src/config/smart-hosts.js';
import { OAuth2TokenProvider } from '../../src/transport/oauth2-token.js';
import { tempMailroot } from '../helpers/relay.js';
import { makeTestCa, type TestCa } from '../helpers/test-ca.js';
import { TokenEndpoint } from '../helpers/token-endpoint.js';
import { FETCH_TO_LOOPBACK_UNDER_WINE } from '../helpers/wine.js';

function microsoftAuth(tokenUrl: string, secret: string): OAuth2Auth {
  return {
    type: 'xoauth2',
    provider: 'microsoft',
    user: 'relay@contoso.test',
    tokenUrl,
    scope: 'https://outlook.office365.com/.default',
    clientId: 'app-1',
    clientSecret: new Secret({ value: secret }, 'smartHost[0].auth.clientSecret'),
    certificate: undefined,
    privateKey: undefined,
    serviceAccount: undefined,
  };
}

describe('OAuth2 token provider', () => {
  let clock = 1_800_000_000_000;
  const now = () => clock;
  let endpoint: TokenEndpoint;

  before(async () => {
    endpoint = await new TokenEndpoint({ clientId: 'app-1', clientSecret: 's3cret-value', lifetime: 3600, now }).start();
  });
  after(() => endpoint.stop());

  it('asks once for many callers, sends the client-credentials form, and keeps the token until shortly before it expires', { skip: FETCH_TO_LOOPBACK_UNDER_WINE }, async () => {
    const start = endpoint.requests.length;
    const provider = new OAuth2TokenProvider({ auth: microsoftAuth(endpoint.url, 's3cret-value'), now });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => provider.getToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(endpoint.requests.length - start, 1, 'ten concurrent callers, one request');
    const body = endpoint.requests.at(-1)!.body;
    assert.equal(body.get('grant_type'), 'client_credentials');
    assert.equal(body.get('client_id'), 'app-1');
    assert.equal(body.get('scope'), 'https://outlook.office365.com/.default');

    clock += 54 * 60_000; // 54 of 60 minutes: still held
    assert.equal(await provider.getToken(), tokens[0]);
    assert.equal(endpoint.requests.length - start, 1);
    clock += 2 * 60_000; // 56 minutes: inside the 5-minute margin, a new one is fetched before expiry
    const renewed = await provider.getToken();
    assert.notEqual(renewed, tokens[0]);
    assert.ok(endpoint.isValid(renewed));
    assert.equal(endpoint.requests.length - start, 2);

    provider.invalidate('some-older-token'); // not the held one: nothing happens
    assert.equal(await provider.getToken(), renewed);
    provider.invalidate(renewed); // a host rejected it
    assert.notEqual(await provider.getToken(), renewed);
    assert.equal(endpoint.requests.length - start, 3);
    assert.equal(provider.requests, 3);
  });

  it('reports a refusing endpoint without the secret, and waits before asking again', { skip: FETCH_TO_LOOPBACK_UNDER_WINE }, async () => {
    const start = endpoint.requests.length;
    const provider = new OAuth2TokenProvider({ auth: microsoftAuth(endpoint.url, 'wrong-secret-value'), now });
    await assert.rejects(provider.getToken(), (err: Error) => {
      assert.match(err.message, /answered 401: invalid_client: AADSTS7000215: Invalid client secret provided/);
      assert.doesNotMatch(err.message, /wrong-secret-value/);
      return true;
    });
    await assert.rejects(provider.getToken(), /AADSTS7000215/);
    assert.equal(endpoint.requests.length - start, 1, 'the second call within the pause made no request');
    clock += 5_000;
    await assert.rejects(provider.getToken(), /AADSTS7000215/);
    assert.equal(endpoint.requests.length - start, 2, 'asked again after the pause');
  });

  it('keeps using a token that has not expired while the endpoint fails', { skip: FETCH_TO_LOOPBACK_UNDER_WINE }, async () => {
    const provider = new OAuth2TokenProvider({ auth: microsoftAuth(endpoint.url, 's3cret-value'), now });
    const token = await provider.getToken();
    clock += 57 * 60_000;
    endpoint.failWith = { status: 503, error: 'temporarily_unavailable', description: 'try later' };
    try {
      assert.equal(await provider.getToken(), token, 'the refresh failed, the old token still serves');
      clock += 4 * 60_000; // past its expiry
      await assert.rejects(provider.getToken(), /503: temporarily_unavailable/);
    } finally {
      endpoint.failWith = undefined;
    }
  });

  it('builds the XOAUTH2 initial response', () => {
    const provider = new OAuth2TokenProvider({ auth: microsoftAuth(endpoint.url, 'x'), now });
    assert.equal(Buffer.from(provider.xoauth2('tok'), 'base64').toString(), 'user=relay@contoso.test\x01auth=Bearer tok\x01\x01');
  });
});

describe('OAuth2 assertion grants', { skip: FETCH_TO_LOOPBACK_UNDER_WINE }, () => {
  let ca: TestCa | string;
  before(async () => {
    ca = await makeTestCa();
  });

  it('signs a Microsoft certificate credential: RS256 with the certificate thumbprint, audience the token URL', async (t) => {
    if (typeof ca === 'string') return t.skip(ca);
    const certPem = fs.readFileSync(ca.app.cert, 'utf8');
    const endpoint = await new TokenEndpoint({ assertionKey: certPem }).start();
    try {
      const auth: OAuth2Auth = {
        ...microsoftAuth(endpoint.url, 'unused'),
        clientSecret: undefined,
        certificate: new Secret({ value: certPem }, 'c'),
        privateKey: new Secret({ value: fs.readFileSync(ca.app.key, 'utf8') }, 'k'),
      };
      const token = await new OAuth2TokenProvider({ auth }).getToken();
      assert.ok(endpoint.isValid(token));
      const request = endpoint.requests[0]!;
      assert.equal(request.body.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      assert.equal(request.body.get('client_secret'), null);
      const thumbprint = crypto.createHash('sha1').update(new crypto.X509Certificate(certPem).raw).digest('base64url');
      assert.equal(request.jwt!.header.x5t, thumbprint);
      assert.equal(request.jwt!.header.alg, 'RS256');
      assert.equal(request.jwt!.claims.aud, endpoint.url);
      assert.equal(request.jwt!.claims.iss, 'app-1');
      assert.equal(request.jwt!.claims.sub, 'app-1');
    } finally {
      await endpoint.stop();
    }
  });

  it('signs a Google service-account assertion for the mailbox it acts as', async () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const endpoint = await new TokenEndpoint({ assertionKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }).start();
    try {
      const dir = await tempMailroot();
      const keyFile = path.join(dir, 'sa.json');
      fs.writeFileSync(keyFile, JSON.stringify({
        type: 'service_account',
        client_email: 'relay@project.iam.gserviceaccount.com',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        token_uri: endpoint.url,
      }));
      const serviceAccount = new Secret({ file: keyFile }, 'smartHost[0].auth.serviceAccount');
      assert.equal(serviceAccount.load(dir, {}), undefined);
      const auth: OAuth2Auth = {
        type: 'xoauth2', provider: 'google', user: 'alerts@example.com', tokenUrl: endpoint.url, scope: 'https://mail.google.com/',
        clientId: undefined, clientSecret: undefined, certificate: undefined, privateKey: undefined, serviceAccount,
      };
      const token = await new OAuth2TokenProvider({ auth }).getToken();
      assert.ok(endpoint.isValid(token));
      const request = endpoint.requests[0]!;
      assert.equal(request.body.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer');
      assert.equal(request.jwt!.claims.iss, 'relay@project.iam.gserviceaccount.com');
      assert.equal(request.jwt!.claims.sub, 'alerts@example.com');
      assert.equal(request.jwt!.claims.scope, 'https://mail.google.com/');
      assert.equal(request.jwt!.claims.aud, endpoint.url);
    } finally {
      await endpoint.stop();
    }
  });
});
