"use strict";(self.rspackChunkcogment_jupyter_panel=self.rspackChunkcogment_jupyter_panel||[]).push([[232],{15(e,t,n){var o=n(16),a=n.n(o),r=n(17),l=(n.n(r))()(a());l.push([e.id,`/* The Cogment side panel: JupyterLab's theme variables only, so light and dark themes fit. */

.jp-CogmentPanel {
  display: flex;
  flex-direction: column;
  gap: 12px;
  padding: 8px 12px 12px;
  overflow: auto;
  color: var(--jp-ui-font-color1);
  background: var(--jp-layout-color1);
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
}

.jp-CogmentPanel-header {
  display: flex;
  align-items: center;
  justify-content: space-between;
}

.jp-CogmentPanel-title {
  margin: 0;
  font-size: var(--jp-ui-font-size2);
  font-weight: 600;
  letter-spacing: 0.02em;
  text-transform: uppercase;
  color: var(--jp-ui-font-color1);
}

.jp-CogmentPanel-subtitle {
  display: flex;
  align-items: baseline;
  gap: 8px;
  margin: 0 0 6px;
  font-size: var(--jp-ui-font-size1);
  font-weight: 600;
  color: var(--jp-ui-font-color1);
}

.jp-CogmentPanel-count {
  font-weight: normal;
  color: var(--jp-ui-font-color2);
}

.jp-CogmentPanel button.jp-CogmentPanel-iconButton {
  display: flex;
  align-items: center;
  justify-content: center;
  width: 24px;
  height: 24px;
  padding: 0;
  border: none;
  border-radius: var(--jp-border-radius);
  background: transparent;
  cursor: pointer;
}

.jp-CogmentPanel button.jp-CogmentPanel-iconButton:hover {
  background: var(--jp-layout-color2);
}

/* problems: the server extension is missing, the server cannot be reached */
.jp-CogmentPanel-problem {
  padding: 8px 10px;
  border-left: 3px solid var(--jp-error-color1);
  border-radius: var(--jp-border-radius);
  background: var(--jp-layout-color2);
  color: var(--jp-ui-font-color1);
  line-height: 1.4;
}

.jp-CogmentPanel.jp-mod-unavailable .jp-CogmentPanel-facts,
.jp-CogmentPanel.jp-mod-unavailable .jp-CogmentPanel-trials,
.jp-CogmentPanel.jp-mod-unavailable .jp-CogmentPanel-note,
.jp-CogmentPanel.jp-mod-unavailable .jp-CogmentPanel-restart {
  display: none;
}

/* the runtime */
.jp-CogmentPanel-runtime {
  display: flex;
  flex-direction: column;
  gap: 6px;
}

.jp-CogmentPanel-runtimeState {
  display: flex;
  align-items: center;
  gap: 6px;
  font-size: var(--jp-ui-font-size2);
  font-weight: 600;
}

.jp-CogmentPanel-runtimeState::before {
  content: '';
  width: 9px;
  height: 9px;
  border-radius: 50%;
  background: var(--jp-ui-font-color3);
}

.jp-CogmentPanel-runtimeState[data-state='running']::before {
  background: var(--jp-success-color1);
}

.jp-CogmentPanel-runtimeState[data-state='starting']::before,
.jp-CogmentPanel-runtimeState[data-state='restarting']::before,
.jp-CogmentPanel-runtimeState[data-state='stopping']::before {
  background: var(--jp-warn-color1);
}

.jp-CogmentPanel-runtimeState[data-state='failed']::before,
.jp-CogmentPanel-runtimeState[data-state='unavailable']::before {
  background: var(--jp-error-color1);
}

.jp-CogmentPanel-note {
  margin: 0;
  color: var(--jp-ui-font-color2);
  line-height: 1.4;
}

.jp-CogmentPanel-facts {
  display: grid;
  grid-template-columns: max-content minmax(0, 1fr);
  column-gap: 10px;
  row-gap: 3px;
  margin: 0;
}

.jp-CogmentPanel-facts dt {
  color: var(--jp-ui-font-color2);
}

.jp-CogmentPanel-facts dd {
  margin: 0;
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
}

.jp-CogmentPanel-facts dd[data-field='versions'] {
  white-space: normal;
}

.jp-CogmentPanel-facts dd[data-field='orchestrator'],
.jp-CogmentPanel-facts dd[data-field='datastore'] {
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
}

.jp-CogmentPanel button.jp-CogmentPanel-restart {
  align-self: flex-start;
}

/* the trials */
.jp-CogmentPanel-notice {
  margin-bottom: 6px;
  padding: 6px 8px;
  border-radius: var(--jp-border-radius);
  background: var(--jp-layout-color2);
  line-height: 1.4;
}

.jp-CogmentPanel-notice.jp-mod-error,
.jp-CogmentPanel-message.jp-mod-error {
  color: var(--jp-error-color1);
}

.jp-CogmentPanel-message {
  margin: 0;
  color: var(--jp-ui-font-color2);
}

.jp-CogmentPanel-message:empty {
  display: none;
}

.jp-CogmentPanel-table {
  width: 100%;
  border-collapse: collapse;
}

.jp-CogmentPanel-table th {
  padding: 3px 4px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color1);
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
  font-weight: normal;
  text-align: left;
  white-space: nowrap;
}

.jp-CogmentPanel-table td {
  padding: 5px 4px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  vertical-align: middle;
  white-space: nowrap;
}

/* the trial column takes the room left and ellipsizes; the others are as wide as their content */
.jp-CogmentPanel-table .jp-CogmentPanel-trialCell {
  width: 100%;
  max-width: 0;
  overflow: hidden;
}

.jp-CogmentPanel-table .jp-CogmentPanel-stateCell,
.jp-CogmentPanel-table .jp-CogmentPanel-action {
  width: 1px;
}

.jp-CogmentPanel-table td > * {
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
}

.jp-CogmentPanel-id {
  display: block;
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
  color: var(--jp-ui-font-color1);
}

.jp-CogmentPanel-what,
.jp-CogmentPanel-tick {
  margin-top: 2px;
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
}

.jp-CogmentPanel-tick {
  font-variant-numeric: tabular-nums;
}

.jp-CogmentPanel-state {
  color: var(--jp-ui-font-color2);
}

.jp-CogmentPanel-stateCell[data-state='RUNNING'] .jp-CogmentPanel-state {
  color: var(--jp-success-color1);
  font-weight: 600;
}

.jp-CogmentPanel-stateCell[data-state='INITIALIZING'] .jp-CogmentPanel-state,
.jp-CogmentPanel-stateCell[data-state='PENDING'] .jp-CogmentPanel-state,
.jp-CogmentPanel-stateCell[data-state='TERMINATING'] .jp-CogmentPanel-state {
  color: var(--jp-warn-color1);
  font-weight: 600;
}

.jp-CogmentPanel-table tr:not(.jp-mod-active) .jp-CogmentPanel-id {
  color: var(--jp-ui-font-color2);
}

.jp-CogmentPanel-table td.jp-CogmentPanel-action {
  text-align: right;
}

.jp-CogmentPanel button.jp-CogmentPanel-terminate {
  border: var(--jp-border-width) solid var(--jp-border-color1);
}

.jp-CogmentPanel button.jp-CogmentPanel-terminate svg path,
.jp-CogmentPanel button.jp-CogmentPanel-terminate .jp-icon3 {
  fill: var(--jp-error-color1);
}

.jp-CogmentPanel button.jp-CogmentPanel-terminate:hover:enabled {
  border-color: var(--jp-error-color1);
  background: var(--jp-layout-color2);
}

.jp-CogmentPanel button.jp-CogmentPanel-terminate:disabled {
  cursor: default;
  opacity: 0.4;
}

.jp-CogmentPanel-muted {
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
  font-style: italic;
}

.jp-CogmentPanel-footer {
  margin-top: auto;
  color: var(--jp-ui-font-color3);
  font-size: var(--jp-ui-font-size0);
}

.jp-CogmentPanel [hidden] {
  display: none !important;
}
`,""]),n.d(t,{},{A:l})},17(e){e.exports=function(e){var t=[];return t.toString=function(){return this.map(function(t){var n="",o=void 0!==t[5];return t[4]&&(n+="@supports (".concat(t[4],") {")),t[2]&&(n+="@media ".concat(t[2]," {")),o&&(n+="@layer".concat(t[5].length>0?" ".concat(t[5]):""," {")),n+=e(t),o&&(n+="}"),t[2]&&(n+="}"),t[4]&&(n+="}"),n}).join("")},t.i=function(e,n,o,a,r){"string"==typeof e&&(e=[[null,e,void 0]]);var l={};if(o)for(var i=0;i<this.length;i++){var p=this[i][0];null!=p&&(l[p]=!0)}for(var s=0;s<e.length;s++){var c=[].concat(e[s]);o&&l[c[0]]||(void 0!==r&&(void 0===c[5]||(c[1]="@layer".concat(c[5].length>0?" ".concat(c[5]):""," {").concat(c[1],"}")),c[5]=r),n&&(c[2]&&(c[1]="@media ".concat(c[2]," {").concat(c[1],"}")),c[2]=n),a&&(c[4]?(c[1]="@supports (".concat(c[4],") {").concat(c[1],"}"),c[4]=a):c[4]="".concat(a)),t.push(c))}},t}},16(e){e.exports=function(e){return e[1]}},9(e){var t=[];function n(e){for(var n=-1,o=0;o<t.length;o++)if(t[o].identifier===e){n=o;break}return n}function o(e,o){for(var a={},r=[],l=0;l<e.length;l++){var i=e[l],p=o.base?i[0]+o.base:i[0],s=a[p]||0,c="".concat(p," ").concat(s);a[p]=s+1;var d=n(c),m={css:i[1],media:i[2],sourceMap:i[3],supports:i[4],layer:i[5]};if(-1!==d)t[d].references++,t[d].updater(m);else{var u=function(e,t){var n=t.domAPI(t);return n.update(e),function(t){t?(t.css!==e.css||t.media!==e.media||t.sourceMap!==e.sourceMap||t.supports!==e.supports||t.layer!==e.layer)&&n.update(e=t):n.remove()}}(m,o);o.byIndex=l,t.splice(l,0,{identifier:c,updater:u,references:1})}r.push(c)}return r}e.exports=function(e,a){var r=o(e=e||[],a=a||{});return function(e){e=e||[];for(var l=0;l<r.length;l++){var i=n(r[l]);t[i].references--}for(var p=o(e,a),s=0;s<r.length;s++){var c=n(r[s]);0===t[c].references&&(t[c].updater(),t.splice(c,1))}r=p}}},11(e){var t={};e.exports=function(e,n){var o=function(e){if(void 0===t[e]){var n=document.querySelector(e);if(window.HTMLIFrameElement&&n instanceof window.HTMLIFrameElement)try{n=n.contentDocument.head}catch(e){n=null}t[e]=n}return t[e]}(e);if(!o)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");o.appendChild(n)}},13(e){e.exports=function(e){var t=document.createElement("style");return e.setAttributes(t,e.attributes),e.insert(t,e.options),t}},12(e,t,n){e.exports=function(e){var t=n.nc;t&&e.setAttribute("nonce",t)}},10(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var t=e.insertStyleElement(e);return{update:function(n){var o,a,r;o="",n.supports&&(o+="@supports (".concat(n.supports,") {")),n.media&&(o+="@media ".concat(n.media," {")),(a=void 0!==n.layer)&&(o+="@layer".concat(n.layer.length>0?" ".concat(n.layer):""," {")),o+=n.css,a&&(o+="}"),n.media&&(o+="}"),n.supports&&(o+="}"),(r=n.sourceMap)&&"u">typeof btoa&&(o+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(r))))," */")),e.styleTagTransform(o,t,e.options)},remove:function(){var e;null===(e=t).parentNode||e.parentNode.removeChild(e)}}}},14(e){e.exports=function(e,t){if(t.styleSheet)t.styleSheet.cssText=e;else{for(;t.firstChild;)t.removeChild(t.firstChild);t.appendChild(document.createTextNode(e))}}},8(e,t,n){var o=n(9),a=n.n(o),r=n(10),l=n.n(r),i=n(11),p=n.n(i),s=n(12),c=n.n(s),d=n(13),m=n.n(d),u=n(14),g=n.n(u),f=n(15),j={};j.styleTagTransform=g(),j.setAttributes=c(),j.insert=p().bind(null,"head"),j.domAPI=l(),j.insertStyleElement=m(),a()(f.A,j),f.A&&f.A.locals&&f.A.locals}}]);