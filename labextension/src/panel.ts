/**
 * The "Cogment" side panel: the shared runtime's status and the running and recent trials,
 * polled from the server extension's REST API while the panel is visible.
 */
import { refreshIcon, stopIcon } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { ApiError, CogmentApi, LiveInfo, RuntimeStatus, TrialList } from './api';
import {
  ACTIVE_STATES,
  TrialView,
  canRestart,
  formatDuration,
  formatEndpoint,
  formatVersions,
  runtimeLabel,
  runtimeNote,
  trialViews
} from './model';

export const PANEL_ID = 'cogment-jupyter-panel';
/** ms between two polls while the panel is visible */
export const POLL_INTERVAL = 2000;
/** ended trials listed under the running ones */
const RECENT = 10;
/** running trials looked up on the shared orchestrator per poll */
const MAX_LOOKUPS = 20;

const EXTENSION_MISSING =
  'The cogment_jupyter server extension does not answer on this Jupyter server. ' +
  'Install cogment_jupyter in the environment that runs JupyterLab, check that ' +
  '`jupyter server extension list` shows it enabled, and restart JupyterLab.';

const IN_KERNEL =
  'Runs on the in-process orchestrator of the kernel that started it (all its parts are in that ' +
  'kernel), not on the shared one: stop it from its notebook, e.g. trial.cancel().';

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

interface Snapshot {
  status: RuntimeStatus;
  trials: TrialView[] | null;
  trialsError: string | null;
}

export class CogmentPanel extends Widget {
  constructor(
    private readonly api: CogmentApi,
    private readonly interval = POLL_INTERVAL
  ) {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-CogmentPanel');
    this.title.caption = 'Cogment: shared runtime and trials';

    const header = element('div', 'jp-CogmentPanel-header');
    header.append(element('h2', 'jp-CogmentPanel-title', 'Cogment'));
    const refresh = element('button', 'jp-CogmentPanel-iconButton jp-mod-styled');
    refresh.title = 'Refresh now';
    refresh.setAttribute('aria-label', 'Refresh');
    refreshIcon.element({ container: refresh, height: '16px', width: '16px' });
    refresh.addEventListener('click', () => void this.refresh());
    header.append(refresh);

    this.runtimeState.dataset.field = 'state';
    const runtime = element('section', 'jp-CogmentPanel-runtime');
    runtime.append(this.runtimeState, this.problem, this.runtimeNote, this.facts, this.restartButton);
    this.restartButton.addEventListener('click', () => void this.restartRuntime());

    const trials = element('section', 'jp-CogmentPanel-trials');
    const trialsHeader = element('h3', 'jp-CogmentPanel-subtitle', 'Trials');
    trialsHeader.append(this.trialsCount);
    const head = element('thead');
    const headRow = element('tr');
    for (const [label, className] of [
      ['Trial', 'jp-CogmentPanel-trialCell'],
      ['State', 'jp-CogmentPanel-stateCell'],
      ['', 'jp-CogmentPanel-action']
    ]) {
      headRow.append(element('th', className, label));
    }
    head.append(headRow);
    this.table.append(head, this.tbody);
    trials.append(trialsHeader, this.notice, this.table, this.trialsMessage);

    this.node.append(header, runtime, trials, this.footer);
    this.problem.setAttribute('role', 'alert');
    this.notice.setAttribute('role', 'status');
    this.setNotice(null);
    this.render(null);
  }

  /** Ask the server now (also what each poll does). Never throws. */
  async refresh(): Promise<void> {
    if (this.inFlight) {
      return this.inFlight;
    }
    this.inFlight = this.poll()
      .catch(error => this.showProblem(error)) // an answer of an unexpected shape
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  dispose(): void {
    this.stopPolling();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.startPolling();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this.startPolling();
    }
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this.stopPolling();
  }

  protected onBeforeDetach(msg: Message): void {
    this.stopPolling();
    super.onBeforeDetach(msg);
  }

  // ------------------------------------------------------------------ polling

  private startPolling(): void {
    if (this.polling) {
      return;
    }
    this.polling = true;
    // a round still waiting for its answer when the panel was hidden and shown again ends there
    const generation = ++this.generation;
    const round = async () => {
      await this.refresh();
      if (this.polling && generation === this.generation && !this.isDisposed) {
        this.timer = window.setTimeout(round, this.interval);
      }
    };
    void round();
  }

  private stopPolling(): void {
    this.polling = false;
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private async poll(): Promise<void> {
    let status: RuntimeStatus;
    try {
      status = await this.api.status();
    } catch (error) {
      this.showProblem(error);
      return;
    }
    // the trials routes start a runtime that did not start with the server: only observe
    if (status.state === 'stopped') {
      this.render({ status, trials: null, trialsError: null });
      return;
    }
    let trials: TrialView[] | null = null;
    let trialsError: string | null = null;
    try {
      trials = await this.loadTrials(status);
    } catch (error) {
      trialsError = error instanceof Error ? error.message : String(error);
    }
    this.render({ status, trials, trialsError });
  }

  private async loadTrials(status: RuntimeStatus): Promise<TrialView[]> {
    const [active, recent]: TrialList[] = await Promise.all([
      this.api.trials({ states: ACTIVE_STATES }),
      this.api.trials({ limit: RECENT + MAX_LOOKUPS })
    ]);
    const live = new Map<string, LiveInfo | null>();
    if (status.state === 'running') {
      const lookups = active.trials.slice(-MAX_LOOKUPS).map(async row => {
        try {
          live.set(row.trial_id, (await this.api.trial(row.trial_id)).live);
        } catch {
          // ended and gone in between, or a hiccup: the next poll tells
        }
      });
      await Promise.all(lookups);
    }
    return trialViews(active.trials, recent.trials, live, RECENT);
  }

  // ------------------------------------------------------------------ actions

  private async terminate(view: TrialView, button: HTMLButtonElement): Promise<void> {
    this.stopping.add(view.id);
    button.disabled = true;
    this.setNotice(null);
    try {
      await this.api.terminate(view.id);
    } catch (error) {
      this.stopping.delete(view.id);
      const message = error instanceof Error ? error.message : String(error);
      this.setNotice(`Trial ${view.shortId} was not terminated: ${message}`, true);
      button.disabled = false;
    }
    await this.refresh();
  }

  private async restartRuntime(): Promise<void> {
    this.restarting = true;
    this.restartButton.disabled = true;
    this.restartButton.textContent = 'Starting…';
    this.setNotice(null);
    try {
      await this.api.restart();
    } catch (error) {
      this.setNotice(`The runtime did not start: ${error instanceof Error ? error.message : error}`, true);
    }
    this.restarting = false;
    this.restartButton.disabled = false;
    await this.refresh();
  }

  // ------------------------------------------------------------------ rendering

  private showProblem(error: unknown): void {
    let message: string;
    if (error instanceof ApiError && error.extensionMissing) {
      message = EXTENSION_MISSING;
    } else if (error instanceof ApiError && error.status === 0) {
      message = error.message;
    } else {
      const why = error instanceof Error ? error.message : String(error);
      message = `The Cogment status could not be read: ${why}`;
    }
    this.problem.textContent = message;
    this.problem.hidden = false;
    this.node.dataset.runtimeState = 'unavailable';
    this.runtimeState.textContent = 'unavailable';
    this.runtimeState.dataset.state = 'unavailable';
    this.node.classList.add('jp-mod-unavailable');
    this.stamp();
  }

  private render(snapshot: Snapshot | null): void {
    this.problem.hidden = true;
    this.node.classList.remove('jp-mod-unavailable');
    if (snapshot === null) {
      this.runtimeState.textContent = 'connecting…';
      this.runtimeState.dataset.state = 'unknown';
      this.runtimeNote.hidden = true;
      this.restartButton.hidden = true;
      this.table.hidden = true;
      this.trialsMessage.textContent = '';
      return;
    }
    const { status } = snapshot;
    this.node.dataset.runtimeState = status.state;
    this.runtimeState.dataset.state = status.state === 'running' && !status.responding ? 'failed' : status.state;
    this.runtimeState.textContent = runtimeLabel(status);
    const note = runtimeNote(status);
    this.runtimeNote.textContent = note ?? '';
    this.runtimeNote.hidden = note === null;
    if (!this.restarting) {
      this.restartButton.hidden = !canRestart(status.state);
      this.restartButton.textContent = status.state === 'stopped' ? 'Start runtime' : 'Restart runtime';
    }

    this.facts.replaceChildren();
    const fact = (name: string, label: string, value: string, title?: string) => {
      const dt = element('dt', undefined, label);
      const dd = element('dd', undefined, value);
      dd.dataset.field = name;
      dd.title = title ?? value;
      this.facts.append(dt, dd);
    };
    const endpoints = status.endpoints;
    fact('orchestrator', 'Orchestrator', formatEndpoint(endpoints?.orchestrator), endpoints?.orchestrator);
    fact(
      'datastore',
      'Datastore',
      formatEndpoint(endpoints?.datastore),
      endpoints ? `${endpoints.datastore}, recording in ${status.datastore_dir}` : status.datastore_dir
    );
    if (endpoints?.model_registry) {
      fact(
        'model_registry',
        'Model registry',
        formatEndpoint(endpoints.model_registry),
        `${endpoints.model_registry}: lab.models in every notebook`
      );
    }
    fact('versions', 'Versions', formatVersions(status.versions));
    fact('uptime', 'Uptime', formatDuration(status.uptime));
    const lastExit = status.last_exit?.description;
    fact(
      'restarts',
      'Restarts',
      String(status.restarts) + (status.restarts && lastExit ? ` (last: ${lastExit})` : ''),
      lastExit ? `last exit: ${lastExit}` : undefined
    );
    fact('pid', 'PID', status.pid === null ? '—' : String(status.pid), `log: ${status.log_file}`);

    this.renderTrials(snapshot);
    this.stamp();
  }

  private renderTrials({ status, trials, trialsError }: Snapshot): void {
    if (trials === null) {
      this.table.hidden = true;
      this.trialsCount.textContent = '';
      this.trialsMessage.textContent =
        trialsError ?? (status.state === 'stopped' ? 'Trials are listed once the runtime runs.' : '');
      this.trialsMessage.classList.toggle('jp-mod-error', trialsError !== null);
      return;
    }
    this.trialsMessage.classList.remove('jp-mod-error');
    const running = trials.filter(t => t.active).length;
    this.trialsCount.textContent = running ? `${running} running` : '';
    this.table.hidden = trials.length === 0;
    this.trialsMessage.textContent = trials.length ? '' : 'No trials recorded yet.';

    const keep = new Set(trials.map(t => t.id));
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
    trials.forEach((view, index) => {
      let row = this.rows.get(view.id);
      if (!row) {
        row = this.createRow(view);
        this.rows.set(view.id, row);
      }
      this.updateRow(row, view);
      if (this.tbody.children[index] !== row) {
        this.tbody.insertBefore(row, this.tbody.children[index] ?? null);
      }
    });
    for (const id of this.stopping) {
      if (!trials.some(t => t.id === id && t.active)) {
        this.stopping.delete(id);
      }
    }
  }

  private createRow(view: TrialView): HTMLTableRowElement {
    const row = element('tr', 'jp-CogmentPanel-trial');
    row.dataset.trialId = view.id;
    const trial = element('td', 'jp-CogmentPanel-trialCell');
    const what = element('div', 'jp-CogmentPanel-what');
    what.append(element('span', 'jp-CogmentPanel-env'), ' · ', element('span', 'jp-CogmentPanel-actors'));
    trial.append(element('code', 'jp-CogmentPanel-id', view.shortId), what);
    const state = element('td', 'jp-CogmentPanel-stateCell');
    state.append(element('div', 'jp-CogmentPanel-state'), element('div', 'jp-CogmentPanel-tick'));
    row.append(trial, state, element('td', 'jp-CogmentPanel-action'));
    return row;
  }

  private updateRow(row: HTMLTableRowElement, view: TrialView): void {
    const [trialCell, stateCell, actionCell] = Array.from(row.cells);
    row.dataset.state = view.state;
    row.classList.toggle('jp-mod-active', view.active);
    setText(trialCell.querySelector('.jp-CogmentPanel-env')!, view.environment);
    setText(trialCell.querySelector('.jp-CogmentPanel-actors')!, view.actors);
    trialCell.title = `trial ${view.id}\nenvironment: ${view.environment}\nactors: ${view.actors}`;
    stateCell.dataset.state = view.state;
    setText(stateCell.children[0], view.state.toLowerCase());
    setText(stateCell.children[1], view.tick === null ? '' : `tick ${view.tick}`);
    stateCell.title = `${view.state} for ${view.duration}`;

    const kind = view.active ? view.stoppable : 'ended';
    if (actionCell.dataset.kind === kind) {
      return;
    }
    actionCell.dataset.kind = kind;
    actionCell.replaceChildren();
    actionCell.title = '';
    if (kind === 'shared') {
      const button = element('button', 'jp-CogmentPanel-terminate jp-CogmentPanel-iconButton');
      button.title = `Terminate trial ${view.id}: it ends at its next tick and stays recorded`;
      button.setAttribute('aria-label', 'Terminate');
      stopIcon.element({ container: button, height: '18px', width: '18px' });
      if (this.stopping.has(view.id)) {
        button.disabled = true;
      }
      button.addEventListener('click', () => void this.terminate(view, button));
      actionCell.append(button);
    } else if (kind === 'kernel') {
      actionCell.append(element('span', 'jp-CogmentPanel-muted', 'in kernel'));
      actionCell.title = IN_KERNEL;
    }
  }

  private setNotice(text: string | null, error = false): void {
    this.notice.textContent = text ?? '';
    this.notice.hidden = text === null;
    this.notice.classList.toggle('jp-mod-error', error);
  }

  private stamp(): void {
    this.footer.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    this.footer.title = `Refreshed every ${this.interval / 1000} s while the panel is shown`;
  }

  private readonly problem = element('div', 'jp-CogmentPanel-problem');
  private readonly runtimeState = element('div', 'jp-CogmentPanel-runtimeState');
  private readonly runtimeNote = element('p', 'jp-CogmentPanel-note');
  private readonly facts = element('dl', 'jp-CogmentPanel-facts');
  private readonly restartButton = element('button', 'jp-CogmentPanel-restart jp-mod-styled jp-mod-accept');
  private readonly trialsCount = element('span', 'jp-CogmentPanel-count');
  private readonly notice = element('div', 'jp-CogmentPanel-notice');
  private readonly table = element('table', 'jp-CogmentPanel-table');
  private readonly tbody = element('tbody');
  private readonly trialsMessage = element('p', 'jp-CogmentPanel-message');
  private readonly footer = element('div', 'jp-CogmentPanel-footer');
  private readonly rows = new Map<string, HTMLTableRowElement>();
  private readonly stopping = new Set<string>();
  private inFlight: Promise<void> | null = null;
  private polling = false;
  private generation = 0;
  private restarting = false;
  private timer: number | null = null;
}

function setText(node: Element, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}
