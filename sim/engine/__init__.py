"""The engine: one model run of one policy, month by month.

Owns the simulated world and nothing else: customer state and behaviour (``customers``),
pricing-scheme decisions (``pricing``: marginal fee, fee charged, priority, SLA, free
allowance), the SimPy support desk (``desk``), Erlang staffing formulas (``erlang``),
common-random-number streams (``rng``) and the month loop that ties them together
(``model.run`` -> one record, a plain dict, per month).

Imports only ``sim.params`` (the schema) plus numpy and SimPy. It must never import
``sim.runs``, ``sim.output``, ``sim.calibrate``, ``sim.cli`` or ``sim.app``, and it is
pandas-free: records are dicts, tables are built by ``sim.runs``. No I/O, no printing, no
global random state.
"""
