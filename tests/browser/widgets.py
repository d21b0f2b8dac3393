"""What the browser tests of the people's widgets share: where the widget is in the page, the
front ends they run in, and the first cell of their notebooks."""

from __future__ import annotations

PLAY = ".cj-play"
STAGE = ".cj-play-stage"
#: JupyterLab and Notebook 7 (the harness's ``ui``)
UIS = ["lab", "notebook"]

#: a lab with CartPole, a random actor and one that balances the pole
SETUP = """
%load_ext cogment_jupyter
%cogment launch --datastore trials
from cogment_jupyter import envs, actors
lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
lab.serve_actor("random", actors.Random())
lab.serve_actor("lean", lambda o: int(o[2] + o[3] > 0))
"""
