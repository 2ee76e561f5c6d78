"""The Streamlit app's logic and page parts; ``app.py`` puts them together.

Modules by concern: ``sources`` (shipped files, uploads, guardrail, export), ``kit``
(controls from the schema, overrides, user text shown literally), ``store`` (caches: memory,
and a private, signed, bounded disk cache), ``procs`` (worker pool and figure process, their
lifetime), ``progressive`` (the run that refines replications), ``views`` (cards, verdict,
tables, downloads, failure messages), ``drawing`` (figures), ``studies`` (what the
Sensitivity and Decision tabs compute); the Streamlit parts ``ui``, ``sidebar`` and ``tabs``;
``serve`` starts the server warm. The page's longer text is in ``prose/``.

Owns: everything the page needs. A caller: it may import every layer below, never
``sim.cli``; nothing imports it. Streamlit only in ``ui``, ``sidebar``, ``tabs`` (and lazily
in ``store`` for the in-memory cache), so worker processes never import it.
"""
