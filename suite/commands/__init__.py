"""The ``cnnbench`` sub-commands, one module each (``configure_parser`` and ``run``)."""
