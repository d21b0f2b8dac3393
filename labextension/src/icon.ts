import { LabIcon } from '@jupyterlab/ui-components';

/** Three services around an orchestrator, in the theme's icon colour. */
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <g class="jp-icon3" fill="#616161">
    <circle cx="12" cy="12" r="3.2"/>
    <circle cx="12" cy="3.6" r="2.1"/>
    <circle cx="4.7" cy="16.2" r="2.1"/>
    <circle cx="19.3" cy="16.2" r="2.1"/>
    <path d="M11.2 5.5h1.6v3.6h-1.6zM6.2 15.6l3.1-1.8.8 1.4-3.1 1.8zM17.8 15.6l-3.1-1.8-.8 1.4 3.1 1.8z"/>
  </g>
</svg>`;

export const cogmentIcon = new LabIcon({ name: 'cogment-jupyter-panel:cogment', svgstr });
