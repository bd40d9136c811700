"""Defaults shared by `ClassifierSettings` and the ``gancore eval`` help, kept apart so the
command line reads them without importing numpy or a framework."""

from __future__ import annotations

#: Training steps of the feature classifier.
CLASSIFIER_STEPS = 1000
#: Samples scored on a 2-D mixture, as in PacGAN's protocol.
MIXTURE_SAMPLES = 2500
