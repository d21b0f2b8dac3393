"""cogment_jupyter: a Jupyter-native lab for human-in-the-loop RL on the Cogment protocol."""

__version__ = "0.1.0"
