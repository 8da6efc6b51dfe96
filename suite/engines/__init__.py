"""Engines behind one interface, each run in its own worker process.

``spec``      engine spec strings (``scratch``, ``keras:jax``...) and old-record mapping
``registry``  the one table of engine families (implementation, options, extras)
``base``      the :class:`~suite.engines.base.Engine` interface every engine implements
``scratch``   scratch_cnn on NumPy (CPU) or CuPy (GPU)
``keras``     Keras 3 on TensorFlow, JAX or PyTorch
``models``    build a catalog architecture for one engine in this process (tests, tools)

Importing this package imports no engine library.
"""
