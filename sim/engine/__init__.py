"""The model of one run: customers (vectorised monthly step), the SimPy support desk,
pricing schemes, Erlang staffing and the month loop that records one row per month.

Owns: every behavioural mechanism. Imports ``sim.params`` only; it must never import
``sim.runs``, ``sim.output``, ``sim.calibrate``, ``sim.cli`` or ``sim.app``, never prints,
and draws every random number from its own named streams (``rng``).
"""
