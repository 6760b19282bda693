// The status file's overall smart host state follows the default route; another route going down shows in its own
// `routes` entry, not as "smart host down" while the default route delivers.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { silentLogger } from '../../src/log/logger.js';
import { StatusReporter } from '../../src/ops/status-reporter.js';

function reporter(): StatusReporter {
  return new StatusReporter({
    root: '/nonexistent',
    hostname: 'relay.test',
    smartHost: 'smtp.example:25',
    listening: () => [],
    inFlight: () => [],
    queueKnown: () => 0,
    log: silentLogger(),
  });
}

it('a domain route going down does not mark the smart host down; the default route does', () => {
  const status = reporter();
  status.hostState({ host: 'hosts (route corp.example)', route: 'corp.example', up: false, reply: 'ECONNREFUSED' });
  assert.equal(status.snapshot().smartHosts[0]!.state, 'unknown');
  status.hostState({ host: 'smtp.example:25', route: 'default', up: false, reply: 'ECONNREFUSED' });
  assert.equal(status.snapshot().smartHosts[0]!.state, 'down');
  status.hostState({ host: 'smtp.example:25', route: 'default', up: true });
  assert.equal(status.snapshot().smartHosts[0]!.state, 'up');
});
