"""The HTTP service and command line around the ``vision`` library."""
