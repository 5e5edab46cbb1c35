"""The book's SymPy symbols, defined once.

Every derivation (:mod:`iclbook.linear.symbolic`, :mod:`iclbook.parity.symbolic`) and every
self-check (:mod:`iclbook.check`) uses these objects, so an expression built in one place
can be compared with one built in another: there is one ``N``.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["N", "T", "LAMBDA", "P", "ETA", "RHO", "KAPPA"]

#: Context length (number of demonstrations).
N = sp.Symbol("N", positive=True, integer=True)
#: ``T = tr(Lambda)`` treated as an independent symbol (Setting 1).
T = sp.Symbol("T", positive=True)
#: A generic eigenvalue ``lambda`` of the input covariance (Setting 1).
LAMBDA = sp.Symbol("lambda", positive=True)
#: A generic task importance ``p_tau`` (Setting 2).
P = sp.Symbol("p", positive=True)
#: Label-flip probability ``eta`` and hidden-bit-flip probability ``rho`` (Setting 2).
ETA = sp.Symbol("eta", nonnegative=True)
RHO = sp.Symbol("rho", nonnegative=True)
#: The attenuation ``kappa`` of Setting 2's noisy context.
KAPPA = sp.Symbol("kappa", real=True)
