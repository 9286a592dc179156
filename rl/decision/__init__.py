"""The pure decision pipeline: action space, bookkeeping, pre-trade checks, action masks, order intents, policies.

Free of Temporal, I/O and numpy: the live actor loop, the REST polling epoch, the training environment
(:mod:`rl.env`) and the backtest all drive it (docs/rl.md "The decision pipeline" and "The live loop").

* :mod:`rl.decision.actions`: :class:`ActionSpace` (HOLD + {BUY, SELL} x {YES, NO} x {TAKE, MAKE}).
* :mod:`rl.decision.limits`: :class:`Limits`, the risk limits in integer units.
* :mod:`rl.decision.portfolio`: :class:`Portfolio`, Kalshi's net-position bookkeeping.
* :mod:`rl.decision.checks`: :class:`OrderIntent`, :func:`check`, :func:`action_mask` (one function for both).
* :mod:`rl.decision.policies`: the :class:`Policy` interface and the baselines.
* :mod:`rl.decision.pipeline`: :class:`DecisionPipeline`, which strings them together.
"""

from rl.decision.actions import *  # noqa: F403
from rl.decision.actions import __all__ as _actions
from rl.decision.checks import *  # noqa: F403
from rl.decision.checks import __all__ as _checks
from rl.decision.limits import *  # noqa: F403
from rl.decision.limits import __all__ as _limits
from rl.decision.pipeline import *  # noqa: F403
from rl.decision.pipeline import __all__ as _pipeline
from rl.decision.policies import *  # noqa: F403
from rl.decision.policies import __all__ as _policies
from rl.decision.portfolio import *  # noqa: F403
from rl.decision.portfolio import __all__ as _portfolio

__all__ = [*_actions, *_limits, *_portfolio, *_checks, *_policies, *_pipeline]
