"""supportsim: should customer support be priced flat, tiered, metered, or flat + VIP?

Data flow (one module per step): ``schema`` (parameters) -> ``scenario`` (load, validate,
policies) -> ``model`` (``customers`` + ``desk`` on SimPy) -> ``metrics`` (KPIs, CIs) ->
``experiment`` (replications) -> ``results`` (files) -> ``plots``; ``cli`` and ``app.py``
are thin callers.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("supportsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
