"""What the in-process components of every trial of a batch share, set up once for the batch.

Each trial's init would pick the same implementations, parse the same configs (the seeds
apart) and make the same plan and codecs (``InProcessEnvironment.init``,
``InProcessActor.init``). A batch of such trials (``run_trials``: one params made once, each
trial's seeds added) makes that once, as a :class:`BatchSetup`, and each of its trials
starts its components with its seeds only (``InProcessEnvironment.start``,
``InProcessActor.start``): the components are called exactly as their init calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cogment_jupyter.engine.components import InitError
from cogment_jupyter.engine.records import TrialActor, config_content
from cogment_jupyter.transport.inprocess import ActorSetup, EnvironmentSetup, serves

if TYPE_CHECKING:
    from cogment_jupyter.proto.common_pb2 import TrialParams
    from cogment_jupyter.transport.inprocess import InProcessServices

__all__ = ["BatchSetup"]


@dataclass(slots=True)
class BatchSetup:
    """The setup of the environment and the one actor of a batch's trials (see the module doc)."""

    services: InProcessServices
    environment: EnvironmentSetup
    actor: ActorSetup
    environment_implementation: str
    actor_implementation: str
    #: the envelope encoders of the trials' records (``transport.fused.envelope_encoders`` of
    #: the setup's codecs), once a trial made them
    envelopes: Any = None

    @classmethod
    def of(cls, services: InProcessServices, params: TrialParams) -> BatchSetup | None:
        """The setup of trials of ``params`` (their seeds apart) with one actor, served by
        ``services``; None where a trial's own init would fail (each trial then fails as it would)."""
        if len(params.actors) != 1:
            return None
        environment, actor = params.environment, params.actors[0]
        try:
            environment_setup = EnvironmentSetup.make(
                services.environments,
                environment.implementation,
                config_content(environment),
                [TrialActor(actor.name, actor.actor_class)],
                services.environment_plans,
            )
            actor_setup = ActorSetup.make(
                services.actors, actor.implementation, actor.name, actor.actor_class, config_content(actor)
            )
        except InitError:
            return None
        return cls(services, environment_setup, actor_setup, environment.implementation, actor.implementation)

    @property
    def current(self) -> bool:
        """Whether a trial's init would still pick the implementations the setup picked (one
        may be served anew while a batch runs)."""
        services = self.services
        return serves(services.environments, self.environment_implementation, self.environment.template) and serves(
            services.actors, self.actor_implementation, self.actor.template
        )
