"""Decisions under uncertainty: which policy is best, how sure we are, what is worth learning.

Where it sits: above ``sim.runs`` (it runs jobs through the experiment layer and its
executors), below ``sim.output``; it imports only ``sim.params``, ``sim.engine`` and
``sim.runs``. ``voi`` holds the value-of-information estimators (usable on any array from a
notebook: ``from sim import decision; decision.evpi(nb)``); ``psa`` the probabilistic
sensitivity analysis over a scenario's ``[uncertainty]`` table.
"""

from sim.decision.voi import evpi, evppi, expected_loss

__all__ = ["evpi", "evppi", "expected_loss"]
