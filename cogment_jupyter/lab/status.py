"""What ``%cogment status`` shows: endpoints, services, and running and recent trials."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cogment_jupyter.access import describe

if TYPE_CHECKING:
    from cogment_jupyter.lab.lab import Lab

RECENT = 10


def logs_line(lab: Lab) -> str:
    """Where the lab's logs are: its log directory and files, or the kernel's output."""
    if lab.logs is None:
        return "the kernel's output (Lab(log_dir=...) or %cogment launch --log_dir DIR keeps one file per service)"
    return f"{lab.logs.directory}: {', '.join(path.name for path in lab.log_files.values())}"


@dataclass
class LabStatus:
    mode: str
    endpoints: dict[str, str]
    services: dict[str, str]
    trials: list[dict[str, object]] = field(default_factory=list)

    @classmethod
    def of(cls, lab: Lab) -> LabStatus:
        if lab.mode == "attached":
            mode = f"attached to the orchestrator at {lab.remote_orchestrator}"
        elif lab.mode == "shared":
            mode = (
                f"shared runtime of the Jupyter server at {lab.shared_orchestrator} (trials served entirely "
                "in this kernel run here, in-process; the others there; all recorded in the shared datastore)"
            )
        else:
            mode = "embedded (orchestrator and datastore in this kernel)"
            if lab.discovery_reason:
                mode += f"; no shared runtime: {lab.discovery_reason}"
        endpoints = {
            "orchestrator": describe(lab.orchestrator_endpoint),
            "services": describe(lab.endpoint),
            "datastore": describe(lab.datastore_endpoint) if lab.datastore_endpoint else "(no recording)",
            "datastore file": str(lab.datastore.file) if lab.datastore is not None else "-",
            "model registry": describe(lab.model_registry_endpoint)
            if lab.model_registry_endpoint
            else "(none: no datastore to keep models beside)",
            "reachable by": "this user only" if lab.reach.private else f"anyone who reaches {lab.reach.host}",
        }
        if lab.directory:
            endpoints["directory"] = lab.directory
        endpoints["logs"] = logs_line(lab)
        handles = lab.handles
        running = [h for h in handles if not h.ended]
        recent = [h for h in handles if h.ended][-RECENT:]
        trials = [
            {
                "trial": h.id,
                "env": h.env,
                "state": h.state,
                "tick": h.tick,
                "error": (h.errors[0] if h.errors else (h.end_details or "")),
            }
            for h in running + recent
        ]
        return cls(mode, endpoints, lab.services, trials)

    def __repr__(self) -> str:
        lines = [f"Cogment lab: {self.mode}"]
        lines += [f"  {name:<15} {value}" for name, value in self.endpoints.items()]
        lines.append("services:" if self.services else "services: none (lab.serve_env / lab.serve_actor)")
        lines += [f"  {name:<15} {kind}" for name, kind in self.services.items()]
        lines.append("trials:" if self.trials else "trials: none yet")
        lines += [
            f"  {t['trial']}  {t['env']:<12} {t['state']:<11} tick {t['tick']:<6} {t['error']}" for t in self.trials
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        def table(headers: list[str], rows: list[list[object]]) -> str:
            head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers)
            body = "".join(
                "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                for row in rows
            )
            return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

        parts = [f"<b>Cogment lab</b>: {html.escape(self.mode)}"]
        parts.append(table(["endpoint", "address"], [[k, v] for k, v in self.endpoints.items()]))
        parts.append(
            table(["service", "kind"], [[k, v] for k, v in self.services.items()])
            if self.services
            else "<p>No services yet: <code>lab.serve_env(...)</code>, <code>lab.serve_actor(...)</code></p>"
        )
        parts.append(
            table(["trial", "env", "state", "tick", "error"], [list(t.values()) for t in self.trials])
            if self.trials
            else "<p>No trials yet.</p>"
        )
        return "".join(parts)
