"""What people read: files (atomic, with provenance), number formatting, plots and the figure
registry, the HTML report and the generated parameter docs.

Owns: every byte supportsim writes for a reader. Imports ``sim.params``, ``sim.engine`` and
``sim.runs``; it must never import ``sim.calibrate``, ``sim.cli`` or ``sim.app``, and never
runs the model except through ``sim.runs``.
"""
