"""cgram: the application layer on top of the packages.

- :mod:`cgram.cli`: the ``cgram`` dispatcher (:data:`cgram.cli.COMMAND_MODULES`)
  and its exit codes;
- :mod:`cgram.options`: the flags several sub-commands share (a leaf module,
  importable from every package's ``cli``);
- :mod:`cgram.demo`: ``cgram demo``, the whole pipeline end to end (tracer,
  zoo, corpus, motifs, reports).

Nothing outside this package imports :mod:`cgram.cli` or :mod:`cgram.demo`
(``tests/test_layers.py`` checks it).
"""
