"""Tests of cogment_jupyter.adapters."""
