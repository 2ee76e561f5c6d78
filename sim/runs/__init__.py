"""Many runs: the ``Results`` type, KPIs and their registry, replications with common random
numbers, executors (serial, processes, Dask), guardrails, run options and the studies
(sweep, break-even, sensitivity, staffing).

Owns: the Monte Carlo layer and every KPI's definition. Imports ``sim.params`` and
``sim.engine``; it must never import ``sim.output``, ``sim.calibrate``, ``sim.cli`` or
``sim.app``, and never writes files or prints.
"""
