"""The Streamlit app's logic: controls generated from the schema (``kit``) and progressive
runs, caches, cards and figures for the page (``runner``); ``app.py`` only draws them.

Owns: everything the page needs that can be unit-tested without a browser. A caller: it
may import every layer below, never ``sim.cli``; nothing imports it.
"""
