"use strict";(self.rspackChunkcogment_jupyter_panel=self.rspackChunkcogment_jupyter_panel||[]).push([[232],{15(e,t,o){var n=o(16),a=o.n(n),r=o(17),l=(o.n(r))()(a());l.push([e.id,`/* The Cogment side panel: JupyterLab's theme variables only, so light and dark themes fit. */

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
  table-layout: fixed;
}

.jp-CogmentPanel-table th {
  padding: 3px 4px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color1);
  color: var(--jp-ui-font-color2);
  font-weight: normal;
  text-align: left;
  white-space: nowrap;
  overflow: hidden;
  text-overflow: ellipsis;
}

.jp-CogmentPanel-table td {
  padding: 4px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  vertical-align: top;
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
}

.jp-CogmentPanel-table th.jp-CogmentPanel-id {
  width: 66px;
}

.jp-CogmentPanel-table th.jp-CogmentPanel-state {
  width: 66px;
}

.jp-CogmentPanel-table th.jp-CogmentPanel-tick {
  width: 42px;
  text-align: right;
}

.jp-CogmentPanel-table th.jp-CogmentPanel-action {
  width: 76px;
}

.jp-CogmentPanel-table td.jp-CogmentPanel-tick {
  text-align: right;
  font-variant-numeric: tabular-nums;
}

.jp-CogmentPanel-table td.jp-CogmentPanel-id code {
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
  color: var(--jp-ui-font-color1);
}

.jp-CogmentPanel-table td.jp-CogmentPanel-state {
  color: var(--jp-ui-font-color2);
}

.jp-CogmentPanel-table td.jp-CogmentPanel-state[data-state='RUNNING'] {
  color: var(--jp-success-color1);
  font-weight: 600;
}

.jp-CogmentPanel-table td.jp-CogmentPanel-state[data-state='INITIALIZING'],
.jp-CogmentPanel-table td.jp-CogmentPanel-state[data-state='PENDING'],
.jp-CogmentPanel-table td.jp-CogmentPanel-state[data-state='TERMINATING'] {
  color: var(--jp-warn-color1);
}

.jp-CogmentPanel-actors {
  color: var(--jp-ui-font-color2);
  overflow: hidden;
  text-overflow: ellipsis;
}

.jp-CogmentPanel-env {
  overflow: hidden;
  text-overflow: ellipsis;
}

.jp-CogmentPanel-table tr:not(.jp-mod-active) td {
  color: var(--jp-ui-font-color2);
}

.jp-CogmentPanel-table td.jp-CogmentPanel-action {
  text-align: right;
}

.jp-CogmentPanel button.jp-CogmentPanel-terminate {
  height: 22px;
  padding: 0 6px;
  border: var(--jp-border-width) solid var(--jp-error-color1);
  border-radius: var(--jp-border-radius);
  background: transparent;
  color: var(--jp-error-color1);
  font-size: var(--jp-ui-font-size0);
  cursor: pointer;
}

.jp-CogmentPanel button.jp-CogmentPanel-terminate:hover:enabled {
  background: var(--jp-error-color1);
  color: var(--jp-ui-inverse-font-color1);
}

.jp-CogmentPanel button.jp-CogmentPanel-terminate:disabled {
  border-color: var(--jp-border-color1);
  color: var(--jp-ui-font-color3);
  cursor: default;
}

.jp-CogmentPanel-muted {
  color: var(--jp-ui-font-color3);
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
`,""]),o.d(t,{},{A:l})},17(e){e.exports=function(e){var t=[];return t.toString=function(){return this.map(function(t){var o="",n=void 0!==t[5];return t[4]&&(o+="@supports (".concat(t[4],") {")),t[2]&&(o+="@media ".concat(t[2]," {")),n&&(o+="@layer".concat(t[5].length>0?" ".concat(t[5]):""," {")),o+=e(t),n&&(o+="}"),t[2]&&(o+="}"),t[4]&&(o+="}"),o}).join("")},t.i=function(e,o,n,a,r){"string"==typeof e&&(e=[[null,e,void 0]]);var l={};if(n)for(var i=0;i<this.length;i++){var p=this[i][0];null!=p&&(l[p]=!0)}for(var s=0;s<e.length;s++){var c=[].concat(e[s]);n&&l[c[0]]||(void 0!==r&&(void 0===c[5]||(c[1]="@layer".concat(c[5].length>0?" ".concat(c[5]):""," {").concat(c[1],"}")),c[5]=r),o&&(c[2]&&(c[1]="@media ".concat(c[2]," {").concat(c[1],"}")),c[2]=o),a&&(c[4]?(c[1]="@supports (".concat(c[4],") {").concat(c[1],"}"),c[4]=a):c[4]="".concat(a)),t.push(c))}},t}},16(e){e.exports=function(e){return e[1]}},9(e){var t=[];function o(e){for(var o=-1,n=0;n<t.length;n++)if(t[n].identifier===e){o=n;break}return o}function n(e,n){for(var a={},r=[],l=0;l<e.length;l++){var i=e[l],p=n.base?i[0]+n.base:i[0],s=a[p]||0,c="".concat(p," ").concat(s);a[p]=s+1;var d=o(c),m={css:i[1],media:i[2],sourceMap:i[3],supports:i[4],layer:i[5]};if(-1!==d)t[d].references++,t[d].updater(m);else{var u=function(e,t){var o=t.domAPI(t);return o.update(e),function(t){t?(t.css!==e.css||t.media!==e.media||t.sourceMap!==e.sourceMap||t.supports!==e.supports||t.layer!==e.layer)&&o.update(e=t):o.remove()}}(m,n);n.byIndex=l,t.splice(l,0,{identifier:c,updater:u,references:1})}r.push(c)}return r}e.exports=function(e,a){var r=n(e=e||[],a=a||{});return function(e){e=e||[];for(var l=0;l<r.length;l++){var i=o(r[l]);t[i].references--}for(var p=n(e,a),s=0;s<r.length;s++){var c=o(r[s]);0===t[c].references&&(t[c].updater(),t.splice(c,1))}r=p}}},11(e){var t={};e.exports=function(e,o){var n=function(e){if(void 0===t[e]){var o=document.querySelector(e);if(window.HTMLIFrameElement&&o instanceof window.HTMLIFrameElement)try{o=o.contentDocument.head}catch(e){o=null}t[e]=o}return t[e]}(e);if(!n)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");n.appendChild(o)}},13(e){e.exports=function(e){var t=document.createElement("style");return e.setAttributes(t,e.attributes),e.insert(t,e.options),t}},12(e,t,o){e.exports=function(e){var t=o.nc;t&&e.setAttribute("nonce",t)}},10(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var t=e.insertStyleElement(e);return{update:function(o){var n,a,r;n="",o.supports&&(n+="@supports (".concat(o.supports,") {")),o.media&&(n+="@media ".concat(o.media," {")),(a=void 0!==o.layer)&&(n+="@layer".concat(o.layer.length>0?" ".concat(o.layer):""," {")),n+=o.css,a&&(n+="}"),o.media&&(n+="}"),o.supports&&(n+="}"),(r=o.sourceMap)&&"u">typeof btoa&&(n+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(r))))," */")),e.styleTagTransform(n,t,e.options)},remove:function(){var e;null===(e=t).parentNode||e.parentNode.removeChild(e)}}}},14(e){e.exports=function(e,t){if(t.styleSheet)t.styleSheet.cssText=e;else{for(;t.firstChild;)t.removeChild(t.firstChild);t.appendChild(document.createTextNode(e))}}},8(e,t,o){var n=o(9),a=o.n(n),r=o(10),l=o.n(r),i=o(11),p=o.n(i),s=o(12),c=o.n(s),d=o(13),m=o.n(d),u=o(14),g=o.n(u),f=o(15),j={};j.styleTagTransform=g(),j.setAttributes=c(),j.insert=p().bind(null,"head"),j.domAPI=l(),j.insertStyleElement=m(),a()(f.A,j),f.A&&f.A.locals&&f.A.locals}}]);