"""cogment_jupyter."""
