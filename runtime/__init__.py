"""The composition root: ``Settings`` in, the running services out (``runtime.bootstrap``)."""
