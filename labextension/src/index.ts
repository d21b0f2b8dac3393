/**
 * cogment-jupyter-panel: a JupyterLab side panel showing the shared Cogment runtime that the
 * cogment_jupyter server extension supervises, and its running and recent trials.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

import { CogmentApi } from './api';
import { cogmentIcon } from './icon';
import { CogmentPanel, PANEL_ID } from './panel';

export { ApiError, CogmentApi } from './api';
export { CogmentPanel } from './panel';

/** Shows the panel (and opens the left sidebar on it). */
export const OPEN_COMMAND = 'cogment-jupyter:open-panel';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'cogment-jupyter-panel:plugin',
  description: 'The shared Cogment runtime and its trials, in the left sidebar',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const panel = new CogmentPanel(new CogmentApi(app.serviceManager.serverSettings));
    panel.title.icon = cogmentIcon;
    app.shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, PANEL_ID);
    app.commands.addCommand(OPEN_COMMAND, {
      label: 'Show Cogment Panel',
      caption: 'The shared Cogment runtime and its trials',
      icon: cogmentIcon,
      execute: () => app.shell.activateById(PANEL_ID)
    });
  }
};

export default plugin;
