import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { stream, lines, parsed: () => lines.map((l) => JSON.parse(l)) };
}

test('one JSON line per event in pino shape: level, time, pid, fields, event', () => {
  const s = sink();
  createLogger({ level: 'info', destination: s.stream }).info('cycle_done', { issued: 2 });
  assert.is(s.lines.length, 1);
  assert.ok(s.lines[0].endsWith('}\n'));
  const [e] = s.parsed();
  assert.equal(Object.keys(e), ['level', 'time', 'pid', 'issued', 'event']);
  assert.equal([e.level, e.pid, e.issued, e.event], ['info', process.pid, 2, 'cycle_done']);
  assert.ok(!Number.isNaN(Date.parse(e.time)));
});

test('levels below the threshold are dropped; setLevel moves it; silent drops all', () => {
  const s = sink();
  const log = createLogger({ level: 'warn', destination: s.stream });
  log.debug('a');
  log.info('b');
  log.warn('c');
  log.error('d');
  log.setLevel('debug');
  log.debug('e');
  log.setLevel('silent');
  log.error('f');
  assert.equal(s.parsed().map((e) => [e.level, e.event]), [['warn', 'c'], ['error', 'd'], ['debug', 'e']]);
});

test('secrets are masked, cycles and bigints do not break the line', () => {
  const s = sink();
  const cyclic: Record<string, unknown> = { name: 'x' };
  cyclic.self = cyclic;
  const key = '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----';
  createLogger({ destination: s.stream }).error('oops', { token: 'hvs.abcdefghijklmnopqrstuvwxyz', note: `got ${key} and s.ABCDEFGHIJKLMNOPQRSTUVWX`, cyclic, big: 12n, err: new Error('boom') });
  const text = s.lines.join('');
  assert.not.match(text, /MIIB|abcdefghijklmnop|ABCDEFGHIJKLMNOP/);
  const [e] = s.parsed();
  assert.is(e.token, '[REDACTED]');
  assert.match(e.note, /\[REDACTED PRIVATE KEY\].*\[REDACTED TOKEN\]/);
  assert.is(e.big, '12');
  assert.is(e.err.message, 'boom');
  assert.ok(text.includes('[Circular]'), 'the cycle is cut, the line still parses');
});

test.run();
