// The "smart host unreachable" alert is timed per route: one route coming back must not cancel the alert for
// another that is still down. On Node's mock clock; the alert is heard through onAlert (no mail, no webhook).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { silentLogger } from '../../src/log/logger.js';
import { Alerts, type Alert } from '../../src/ops/alerts.js';
import { TokenProviders } from '../../src/transport/oauth2-token.js';

const MINUTE = 60_000;

function alerts(): { alerts: Alerts; heard: Alert[] } {
  const a = new Alerts({
    smartHostDown: 5 * MINUTE,
    queueAge: 0,
    badmail: false,
    mailTo: [],
    mailVia: undefined,
    webhook: undefined,
    interval: 0,
    hostname: 'relay.test',
    smartHosts: [],
    tokens: new TokenProviders(),
    queueDir: '/nonexistent',
    log: silentLogger(),
  });
  const heard: Alert[] = [];
  a.onAlert((alert) => heard.push(alert));
  return { alerts: a, heard };
}

describe('the smart host alert, per route', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] }));
  afterEach(() => mock.timers.reset());

  it('a route still down is alerted even when another route came back meanwhile', async () => {
    const { alerts: a, heard } = alerts();
    a.hostState({ host: 'hosts (route corp.example)', up: false, reply: '421 busy' });
    a.hostState({ host: 'smtp.example:25', up: false, reply: 'ECONNREFUSED' });
    mock.timers.tick(MINUTE);
    a.hostState({ host: 'smtp.example:25', up: true });
    mock.timers.tick(4 * MINUTE);
    assert.equal(heard.length, 1);
    assert.match(heard[0]!.message, /hosts \(route corp\.example\) has been unreachable/);
    await a.stop();
  });

  it('a route that comes back before the time is not alerted', async () => {
    const { alerts: a, heard } = alerts();
    a.hostState({ host: 'smtp.example:25', up: false, reply: 'ECONNREFUSED' });
    mock.timers.tick(4 * MINUTE);
    a.hostState({ host: 'smtp.example:25', up: true });
    mock.timers.tick(10 * MINUTE);
    assert.equal(heard.length, 0);
    await a.stop();
  });
});
