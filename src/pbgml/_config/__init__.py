"""The config machinery behind :func:`pbgml.check`, :func:`pbgml.instantiate`,
:func:`pbgml.load_yaml`, :func:`pbgml.to_yaml` and :mod:`pbgml.hydra` (private).

The typed config classes a user imports are :mod:`pbgml.configs`; this package reads
any config into a plain tree, checks it, resolves targets safely and builds them.
"""
