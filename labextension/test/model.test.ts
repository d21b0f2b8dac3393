import { describe, expect, it } from 'vitest';

import type { LiveInfo, RuntimeStatus, TrialRow } from '../src/api';
import {
  canRestart,
  formatActors,
  formatDuration,
  formatEndpoint,
  formatVersions,
  runtimeLabel,
  runtimeNote,
  shortId,
  trialViews
} from '../src/model';

function row(id: string, state: string, started: string | null, extra: Partial<TrialRow> = {}): TrialRow {
  return {
    trial_id: id,
    environment: 'cartpole',
    environment_implementation: 'cartpole',
    actors: [{ name: 'gym', actor_class: 'gym', implementation: 'random' }],
    state,
    interrupted: false,
    steps: 10,
    samples: 10,
    return: 10,
    started,
    ended: null,
    duration: 1.5,
    properties: {},
    user_id: 'me',
    ...extra
  };
}

function status(extra: Partial<RuntimeStatus>): RuntimeStatus {
  return {
    state: 'running',
    pid: 42,
    endpoints: { orchestrator: 'grpc://127.0.0.1:1', datastore: 'grpc://127.0.0.1:2' },
    versions: { cogment: '2.10.1' },
    started_at: 0,
    uptime: 3,
    restarts: 0,
    last_exit: null,
    error: null,
    reason: null,
    datastore_dir: '/tmp/.cogment',
    log_file: '/tmp/log',
    auto_start: true,
    responding: true,
    checked_at: 0,
    ...extra
  };
}

describe('runtime', () => {
  it('names the states', () => {
    expect(runtimeLabel(status({}))).toBe('running');
    expect(runtimeLabel(status({ responding: false }))).toBe('running, not answering');
    expect(runtimeLabel(status({ state: 'stopped' }))).toBe('not started');
    expect(runtimeLabel(status({ state: 'restarting' }))).toBe('restarting');
  });

  it('explains a stopped or failed runtime', () => {
    expect(runtimeNote(status({}))).toBeNull();
    expect(runtimeNote(status({ state: 'stopped', auto_start: false }))).toMatch(/auto_start is off/);
    expect(runtimeNote(status({ state: 'failed', error: 'boom', reason: 'boom' }))).toBe('boom');
    expect(runtimeNote(status({ state: 'restarting', reason: 'killed by SIGKILL' }))).toBe('killed by SIGKILL');
    expect(canRestart('failed') && canRestart('stopped') && !canRestart('running')).toBe(true);
  });

  it('formats durations and versions', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(4.9)).toBe('4 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(2 * 3600 + 3 * 60)).toBe('2 h 03 min');
    expect(formatDuration(3 * 86400 + 4 * 3600)).toBe('3 d 4 h');
    expect(formatVersions({ cogment: '2.10.1', cogment_jupyter: '0.1.0' })).toBe('cogment 2.10.1 · cogment_jupyter 0.1.0');
    expect(formatVersions(null)).toBe('—');
  });

  it('formats TCP endpoints and private sockets', () => {
    expect(formatEndpoint('grpc://127.0.0.1:9000')).toBe('127.0.0.1:9000');
    expect(formatEndpoint('grpc://unix:%2Ftmp%2Fcogment-jupyter-0%2F12-runtime-orchestrator.sock')).toBe(
      '12-runtime-orchestrator.sock (this user only)'
    );
    expect(formatEndpoint(null)).toBe('—');
  });
});

describe('trials', () => {
  it('shortens ids and lists actors', () => {
    expect(shortId('3f1c2a9e-1111-4222-8333-444455556666')).toBe('3f1c2a9e');
    expect(shortId('my-trial')).toBe('my-trial');
    expect(formatActors([{ name: 'p0', actor_class: 'player', implementation: 'client' }, { name: 'p1', actor_class: 'player', implementation: '' }])).toBe('p0: client, p1');
    expect(formatActors([])).toBe('—');
  });

  it('puts active trials first, newest first, and caps the ended ones', () => {
    const active = [row('a1', 'RUNNING', '2026-01-01T00:00:01'), row('a2', 'PENDING', '2026-01-01T00:00:05')];
    const recent = [
      row('e1', 'ENDED', '2026-01-01T00:00:00'),
      row('a1', 'RUNNING', '2026-01-01T00:00:01'),
      row('e2', 'ENDED', '2026-01-01T00:00:02'),
      row('e3', 'ENDED', '2026-01-01T00:00:03')
    ];
    const views = trialViews(active, recent, new Map(), 2);
    expect(views.map(v => v.id)).toEqual(['a2', 'a1', 'e3', 'e2']);
    expect(views.map(v => v.active)).toEqual([true, true, false, false]);
    expect(views[2].stoppable).toBe('ended');
    expect(views[0].stoppable).toBe('unknown');
  });

  it('tells shared-orchestrator trials from in-kernel ones, with the live tick', () => {
    const live = new Map<string, LiveInfo | null>([
      ['shared', { state: 'RUNNING', tick_id: 57, duration: 2, env_name: 'endless', properties: {} }],
      ['kernel', null]
    ]);
    const views = trialViews(
      [row('shared', 'RUNNING', '2026-01-01T00:00:02', { steps: 40 }), row('kernel', 'RUNNING', '2026-01-01T00:00:01')],
      [],
      live,
      5
    );
    expect(views.map(v => [v.id, v.stoppable, v.tick])).toEqual([
      ['shared', 'shared', 57],
      ['kernel', 'kernel', 10]
    ]);
    expect(views[0].duration).toBe('2 s');
  });

  it('follows the orchestrator when a trial ended before the datastore says so', () => {
    const live = new Map<string, LiveInfo | null>([
      ['t', { state: 'ENDED', tick_id: 9, duration: 1, env_name: 'cartpole', properties: {} }]
    ]);
    const [view] = trialViews([row('t', 'RUNNING', null)], [], live, 5);
    expect(view.state).toBe('ENDED');
    expect(view.active).toBe(false);
    expect(view.stoppable).toBe('ended');
  });
});
