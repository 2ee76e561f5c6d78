"""supportsim: should customer support be priced flat, tiered, metered, or flat + VIP?

Layers, imports pointing down only (docs/design.md, "Layout"):
``params`` (schema, loader, walker) -> ``engine`` (customers, desk, pricing, model) ->
``runs`` (Results, metrics, experiment, executors, studies) -> ``output`` (files, plots,
figures, report) -> ``calibrate`` -> ``cli`` and ``app`` (thin callers; ``app.py`` is the page).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("supportsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
