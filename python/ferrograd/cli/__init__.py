"""The command-line tools behind ``python -m ferrograd``, one job per module.

- :mod:`ferrograd.cli.main`: the ``python -m ferrograd`` parser, which hands over to a command;
- :mod:`ferrograd.cli.demo`: ``demo``'s flags and report (the training is :mod:`ferrograd.demo`);
- :mod:`ferrograd.cli.compare`: ``compare``'s flags, its ``--at`` point and its report;
- :mod:`ferrograd.cli.expression`: the expression language ``compare`` reads.
"""
