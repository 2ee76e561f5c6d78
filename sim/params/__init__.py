"""Parameters: the schema (every parameter with unit, range, default and source), the
scenario loader (TOML, ``--set`` overrides, policies, hashes) and the one schema walker.

Owns: what a scenario may say and what each value means. Lowest layer: it must never
import ``sim.engine``, ``sim.runs``, ``sim.output``, ``sim.calibrate``, ``sim.cli`` or
``sim.app``, and it never runs the model.
"""
