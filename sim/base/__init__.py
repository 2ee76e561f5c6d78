"""The bottom layer: facilities every layer may use (no imports from the rest of ``sim``)."""
