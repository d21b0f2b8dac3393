/**
 * The server extension's REST API (`cogment_jupyter/server/handlers.py`), called through
 * `ServerConnection` so Jupyter's token, cookies and XSRF header are handled as for any
 * JupyterLab request.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** `supervisor.State`: what the server extension is doing with the shared runtime. */
export type RuntimeState = 'stopped' | 'starting' | 'running' | 'restarting' | 'failed' | 'stopping';

/** `GET cogment/api/status` */
export interface RuntimeStatus {
  state: RuntimeState;
  pid: number | null;
  endpoints: { orchestrator: string; datastore: string; model_registry?: string } | null;
  versions: Record<string, string> | null;
  started_at: number | null;
  /** seconds, at `checked_at` */
  uptime: number | null;
  restarts: number;
  last_exit: { returncode?: number; description?: string; [key: string]: unknown } | null;
  error: string | null;
  reason: string | null;
  datastore_dir: string;
  log_file: string;
  auto_start: boolean;
  responding: boolean;
  checked_at: number;
}

export interface TrialActor {
  name: string;
  actor_class: string;
  implementation: string;
}

/** One row of `GET cogment/api/trials` (the datastore's `trials()` frame). */
export interface TrialRow {
  trial_id: string;
  environment: string;
  environment_implementation: string;
  actors: TrialActor[] | null;
  state: string;
  interrupted: boolean | null;
  /** ticks recorded so far */
  steps: number | null;
  samples: number | null;
  return: number | null;
  started: string | null;
  ended: string | null;
  /** seconds */
  duration: number | null;
  properties: Record<string, string> | null;
  user_id: string | null;
}

export interface TrialList {
  trials: TrialRow[];
  count: number;
  total: number;
}

/** What the shared orchestrator knows of a trial it runs. */
export interface LiveInfo {
  state: string;
  tick_id: number;
  duration: number;
  env_name: string;
  properties: Record<string, string>;
}

/** `GET cogment/api/trials/<id>` */
export interface TrialDocument {
  trial: TrialRow | null;
  params: unknown;
  live: LiveInfo | null;
}

/** An answer other than 2xx; `status` 0 when the server could not be reached at all. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly route: string
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The route does not exist: the server extension is not installed or not enabled. */
  get extensionMissing(): boolean {
    return this.status === 404 && this.route === 'status';
  }
}

/** The routes the panel uses, relative to `<base url>/cogment/api/`. */
export class CogmentApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  status(): Promise<RuntimeStatus> {
    return this.request('GET', 'status');
  }

  /** `states` selects by state; `limit` keeps the newest N. */
  trials(query: { states?: string[]; limit?: number } = {}): Promise<TrialList> {
    const search = new URLSearchParams();
    if (query.states?.length) {
      search.set('state', query.states.join(','));
    }
    if (query.limit !== undefined) {
      search.set('limit', String(query.limit));
    }
    const suffix = search.toString();
    return this.request('GET', suffix ? `trials?${suffix}` : 'trials');
  }

  trial(trialId: string): Promise<TrialDocument> {
    return this.request('GET', `trials/${encodeURIComponent(trialId)}`);
  }

  terminate(trialId: string, hard = false): Promise<{ trial_id: string; requested: boolean }> {
    return this.request('POST', `trials/${encodeURIComponent(trialId)}/terminate`, { hard });
  }

  restart(): Promise<RuntimeStatus> {
    return this.request('POST', 'runtime/restart');
  }

  private async request<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
    const url = URLExt.join(this.settings.baseUrl, 'cogment', 'api', route);
    // not the settings' default `no-store`: for it makeRequest appends a cache-busting `?<time>`,
    // which `trials` rejects as an unknown filter; `no-cache` always revalidates just the same
    const init: RequestInit = { method, cache: 'no-cache' };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
    }
    const name = route.split('?')[0];
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new ApiError(0, `the Jupyter server cannot be reached (${describe(error)})`, name);
    }
    const text = await response.text();
    let document: unknown = undefined;
    try {
      document = text ? JSON.parse(text) : undefined;
    } catch {
      // an HTML error page, e.g. Jupyter's 404
    }
    if (!response.ok) {
      const message =
        document && typeof document === 'object' && 'message' in document
          ? String((document as { message: unknown }).message)
          : `${response.status} ${response.statusText}`.trim();
      throw new ApiError(response.status, message, name);
    }
    return document as T;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
