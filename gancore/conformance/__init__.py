"""The conformance suite: the tests every gancore backend runs against itself.

A backend package runs it with one import, in a test module of its own:

```python
# tests/test_conformance.py of a backend distribution
from gancore.conformance import *  # noqa: F403 (the suite's tests and its fixture)

BACKENDS = ["mybackend"]  # the entry-point names to test (default: every installed one)
```

It holds the backend to the `gancore.Backend` contract: every portable layer of
`gancore.nn.LAYER_KINDS` (new kinds join on their own) against the float64 numpy reference
in inference and training mode; every loss against the numpy reference under hypothesis,
values and gradients, extreme logits included; the penalties; each optimizer's updates
against PyTorch's arithmetic (`reference_updates`), with a learning-rate change and a
state round trip; compiled and eager updates; checkpoints that resume bit for bit and
sample alike on every backend; and two training steps of each algorithm against another
installed framework backend within the cross-backend tolerance.

A backend that cannot build some layer kinds yet declares them in
``unsupported_layers()``: their tests are skipped with that reason, and a layer it does
not declare must pass. Under ``CI=true`` a backend that cannot load fails the run.

Importing this package imports pytest and hypothesis, never a framework.
"""

from __future__ import annotations

from gancore.conformance._cases import CASES, train
from gancore.conformance._examples import layer_example, layer_inputs
from gancore.conformance._optimizers import reference_updates
from gancore.conformance._suite import *  # noqa: F403
from gancore.conformance._suite import __all__ as _tests

__all__ = ["CASES", "layer_example", "layer_inputs", "reference_updates", "train", *_tests]
