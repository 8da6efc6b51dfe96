"""Planning and running a benchmark matrix.

``plan``      the units of work: one (cell, seed) with every engine's run task
``data``      loading data sets and preparing one run's arrays (inside a worker)
``training``  one run: train, time and evaluate one engine on one cell and seed
``worker``    the long-lived worker process of one engine spec, and its handle
``driver``    the matrix loop: plans, sends runs to workers, the only writer of the store
"""
