/**
 * What the panel shows, computed from the API's answers: pure functions, unit tested.
 */
import type { LiveInfo, RuntimeState, RuntimeStatus, TrialActor, TrialRow } from './api';

/** Trial states of a trial that has not ended (`cogmentAPI.TrialState` names). */
export const ACTIVE_STATES = ['INITIALIZING', 'PENDING', 'RUNNING', 'TERMINATING'];

export function isActive(state: string): boolean {
  return ACTIVE_STATES.includes(state);
}

const RUNTIME_LABELS: Record<RuntimeState, string> = {
  stopped: 'not started',
  starting: 'starting',
  running: 'running',
  restarting: 'restarting',
  failed: 'failed',
  stopping: 'stopping'
};

/** "running", "not started", "restarting", ... */
export function runtimeLabel(status: Pick<RuntimeStatus, 'state' | 'responding'>): string {
  const label = RUNTIME_LABELS[status.state] ?? status.state;
  return status.state === 'running' && !status.responding ? 'running, not answering' : label;
}

/** The sentence under the state, or null when there is nothing to explain. */
export function runtimeNote(status: RuntimeStatus): string | null {
  if (status.state === 'stopped' && !status.error) {
    return status.auto_start
      ? 'The runtime is stopped.'
      : 'auto_start is off: the runtime starts on the first REST request or with Start below. ' +
          'Notebooks launched before it runs use a runtime of their own.';
  }
  const parts = [status.error, status.reason].filter((s): s is string => !!s);
  return parts.length ? Array.from(new Set(parts)).join(' — ') : null;
}

/** Whether the panel offers to (re)start the runtime. */
export function canRestart(state: RuntimeState): boolean {
  return state === 'stopped' || state === 'failed';
}

/** 42 s, 3 min 05 s, 2 h 03 min, 3 d 4 h */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return '—';
  }
  const s = Math.floor(seconds);
  if (s < 60) {
    return `${s} s`;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return `${minutes} min ${pad(s % 60)} s`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return `${hours} h ${pad(minutes % 60)} min`;
  }
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/**
 * "127.0.0.1:9000" for "grpc://127.0.0.1:9000" (every endpoint is gRPC, the narrow panel needs the
 * room); a private Unix socket ("grpc://unix:%2Ftmp%2F...%2F12-runtime-orchestrator.sock") by its
 * file name: "12-runtime-orchestrator.sock (this user only)"
 */
export function formatEndpoint(endpoint: string | null | undefined): string {
  if (!endpoint) {
    return '—';
  }
  const address = endpoint.replace(/^grpc:\/\//, '');
  if (address.toLowerCase().startsWith('unix:')) {
    const path = decodeURIComponent(address.slice('unix:'.length));
    return `${path.split('/').pop()} (this user only)`;
  }
  return address;
}

/** "cogment 2.10.1 · cogment_jupyter 0.1.0" */
export function formatVersions(versions: Record<string, string> | null | undefined): string {
  const entries = Object.entries(versions ?? {});
  return entries.length ? entries.map(([name, version]) => `${name} ${version}`).join(' · ') : '—';
}

/** "gym: random", or "player: client, coach: teacher" */
export function formatActors(actors: TrialActor[] | null | undefined): string {
  if (!actors?.length) {
    return '—';
  }
  return actors.map(a => (a.implementation ? `${a.name}: ${a.implementation}` : a.name)).join(', ');
}

/** The first block of a UUID: enough to tell trials apart at a glance. */
export function shortId(trialId: string): string {
  const first = trialId.split('-')[0];
  return first.length >= 6 && first.length < trialId.length ? first : trialId;
}

/** How a trial can be stopped from the panel. */
export type Stoppable =
  /** ended: nothing to stop */
  | 'ended'
  /** on the shared orchestrator: the terminate route works */
  | 'shared'
  /** not known to the shared orchestrator: it runs in a kernel's own in-process orchestrator */
  | 'kernel'
  /** not looked up (yet) */
  | 'unknown';

export interface TrialView {
  id: string;
  shortId: string;
  state: string;
  active: boolean;
  tick: number | null;
  environment: string;
  actors: string;
  duration: string;
  stoppable: Stoppable;
}

/**
 * Active trials first, then the most recent others, each group newest first, no duplicates.
 * `live` holds the shared orchestrator's answer for active trials that were looked up (null:
 * it does not know the trial).
 */
export function trialViews(
  active: TrialRow[],
  recent: TrialRow[],
  live: ReadonlyMap<string, LiveInfo | null>,
  maxRecent: number
): TrialView[] {
  const newestFirst = (rows: TrialRow[]) => [...rows].sort((a, b) => startedAt(b) - startedAt(a));
  const seen = new Set<string>();
  const out: TrialView[] = [];
  const activeRows = newestFirst(active).filter(row => isActive(row.state));
  const endedRows = newestFirst(recent).filter(row => !isActive(row.state));
  const rows = [...activeRows, ...endedRows.slice(0, maxRecent)];
  for (const row of rows) {
    if (seen.has(row.trial_id)) {
      continue;
    }
    seen.add(row.trial_id);
    out.push(trialView(row, live.has(row.trial_id) ? live.get(row.trial_id)! : undefined));
  }
  return out;
}

function trialView(row: TrialRow, live: LiveInfo | null | undefined): TrialView {
  // the orchestrator is ahead of the datastore (which records ticks as they are written)
  const state = live && live.state !== 'UNKNOWN' ? live.state : row.state;
  const active = isActive(state);
  let stoppable: Stoppable = 'ended';
  if (active) {
    stoppable = live === undefined ? 'unknown' : live === null ? 'kernel' : 'shared';
  }
  const tick = live ? Math.max(live.tick_id, row.steps ?? 0) : row.steps;
  return {
    id: row.trial_id,
    shortId: shortId(row.trial_id),
    state,
    active,
    tick: tick ?? null,
    // what was served (`lab.serve_env(name, ...)`); `environment` is the env's name in the trial
    environment: row.environment_implementation || row.environment || live?.env_name || '—',
    actors: formatActors(row.actors),
    duration: formatDuration(live ? live.duration : row.duration),
    stoppable
  };
}

function startedAt(row: TrialRow): number {
  const time = Date.parse(row.started ?? '');
  return Number.isNaN(time) ? 0 : time;
}
