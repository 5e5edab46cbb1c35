"""Setting 2 (chapters 7-8): the book's m-head sparse-parity model.

:mod:`~iclbook.parity.theory`, :mod:`~iclbook.parity.symbolic`, :mod:`~iclbook.parity.data`,
:mod:`~iclbook.parity.models`, :mod:`~iclbook.parity.training`."""
