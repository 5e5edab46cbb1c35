"""Self-checks for the book's exercises: ``check.xxx(answer)`` says "correct" or gives a hint.

A reader passes a SymPy expression or a Python function; the check compares it with the
reference in :mod:`iclbook` and returns a :class:`CheckResult`.  The result displays as a
coloured line in Jupyter, is truthy exactly when the answer is right (so ``assert
check.xxx(answer)`` works in autograder cells) and never contains the expected answer: no
reference expression, no reference number.  Hints name what is wrong (the limit as
``N -> oo``, the dependence on ``N``, a shape, a sign, a constant factor, a case such as
``r = d``) and which inputs show it.

How answers are compared:

* **Functions** are called on fixed, seeded random inputs (so a chapter's output is the same
  on every run), including edge cases (``r = 1``, ``r = d``, ``N = 1``, large ``N``, noise on
  or off), and compared with the reference function of :mod:`iclbook.linear.theory`,
  :mod:`iclbook.linear.lsa`, :mod:`iclbook.linear.noise` or :mod:`iclbook.parity.theory`.
* **Expressions** are compared numerically at random points against the same reference
  functions, then symbolically (``sympy.simplify(answer - reference) == 0``) against a
  reference expression; the unit tests check each reference expression against the NumPy
  closed form, so each closed form still has one source of truth.

Hidden tests (the graded assignments, ``assignments/``): :func:`without_reference` runs a
check while iclbook's reference implementation of the answer -- and the functions that
compute the same quantity -- raise, so an answer that calls or returns the reference fails.

Checks by chapter (the exercises' self-check cells call these):

* chapter 1: :func:`prompt_shapes`;
* chapter 2: :func:`noise_threshold`;
* chapter 3: :func:`reduced_predict`, :func:`preconditioned_gd_step`, :func:`effective_matrix`,
  :func:`best_step_size`;
* chapter 4: :func:`curvature_expression` (old name :func:`gain_expression`),
  :func:`direction_weight_expression`, :func:`feature_curvatures` (old name
  :func:`feature_gains`), :func:`optimal_loss`, :func:`optimal_matrix`, :func:`loss_of_matrix`;
* chapters 5-6: :func:`noisy_risk`, :func:`best_rank`, :func:`critical_label_noise`;
* chapters 7-9: :func:`head_curvature_expression` (old name :func:`head_gain_expression`),
  :func:`head_weight_expression`, :func:`noise_factor_expression`, :func:`head_curvatures`
  (old name :func:`head_gains`), :func:`optimal_head_weights`,
  :func:`parity_optimal_loss`, :func:`noise_factor`, :func:`parity_noisy_loss`,
  :func:`best_head_count`.
"""

from . import linear, parity
from .engine import CheckResult, symbols, without_reference
from .linear import *  # noqa: F403 - the checks of chapters 1-6
from .parity import *  # noqa: F403 - the checks of chapters 7-9

__all__ = ["CheckResult", *linear.__all__, *parity.__all__, "symbols", "without_reference"]
