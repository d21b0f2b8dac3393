"""The Cogment Model Registry."""
