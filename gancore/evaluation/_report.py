"""`Report`: the scores of samples beside the same scores of real data, as a table or JSON."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from gancore.metrics import PRDC, ModeReport

__all__ = ["ImageScores", "Report"]


@attrs.frozen
class ImageScores:
    """Image scores in the feature space of one feature classifier.

    Attributes:
        frechet_distance: Frechet distance of the features to those of the classifier's
            training part (lower is better; 0 for identical statistics).
        inception_score, inception_score_std: mean and std over 10 splits of the
            Inception-style score of the classifier's softmax (higher is better, <= K).
        prdc: precision, recall, density and coverage against the training part (k = 5).
        conditional_accuracy: the share classified as the requested class (conditional
            samples only, else None).
    """

    frechet_distance: float
    inception_score: float
    inception_score_std: float
    prdc: PRDC
    conditional_accuracy: float | None = None


@attrs.frozen
class Report:
    """The evaluation of samples, always beside a real-versus-real baseline.

    Attributes:
        source: what was scored (a checkpoint folder, a file, "array").
        dataset: the real dataset they were scored against.
        num_samples: how many samples were scored.
        scores: `ModeReport` (2-D mixtures: the PacGAN protocol) or `ImageScores`.
        baseline: the same scores of real data: samples drawn from the mixture itself, or
            the held-out real part scored against the classifier's training part.
        classifier: for images, what the feature classifier is (key, backend, sizes of the
            real parts, its test accuracy on the held-out part); None for mixtures.
        baseline_samples: how many real samples the baseline scored (the samples' count,
            or all of the held-out part when it has fewer); None if not recorded.
    """

    source: str
    dataset: str
    num_samples: int
    scores: ModeReport | ImageScores
    baseline: ModeReport | ImageScores
    classifier: dict[str, Any] | None = None
    baseline_samples: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (nan becomes None)."""
        return _jsonable(attrs.asdict(self, value_serializer=_serialize))

    def table(self) -> str:
        """The scores and the baseline side by side, as a plain-text table."""
        from gancore.cli import _table

        rows = _rows(self.scores, self.baseline)
        counted = "" if self.baseline_samples is None else f" (n={self.baseline_samples})"
        header = ["metric", f"samples (n={self.num_samples})", f"real baseline{counted}"]
        lines = [f"{self.source} against {self.dataset}", "", _table(rows, header)]
        if self.classifier is not None:
            c = self.classifier
            lines += ["", f"feature classifier {c['key'][:16]}: trained with "
                          f"{c['settings']['backend']} on {c['num_train']} real images "
                          f"(features computed with {c['backend']}), test accuracy "
                          f"{100 * c['test_accuracy']:.2f} % on {c['num_test']} held out; the "
                          f"baseline scores {self._baseline_count()} held-out images against "
                          f"the training part"]
        else:
            lines += ["", "baseline: the same number of samples drawn from the mixture itself"]
        return "\n".join(lines)


    def _baseline_count(self) -> str:
        n = self.baseline_samples
        if n is None or n == self.num_samples:
            return f"{n or self.num_samples:,} (as many as the samples)"
        return f"{n:,} (all there are: fewer than the {self.num_samples:,} samples)"


def _serialize(inst: Any, field: Any, value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rows(scores: ModeReport | ImageScores, baseline: ModeReport | ImageScores
          ) -> list[list[str]]:
    if isinstance(scores, ModeReport) and isinstance(baseline, ModeReport):
        return [
            ["modes captured", *(f"{r.modes_captured}/{r.num_modes}" for r in (scores, baseline))],
            ["high-quality samples", *(f"{100 * r.high_quality_fraction:.1f} %"
                                       for r in (scores, baseline))],
            ["reverse KL", *(f"{r.reverse_kl:.4f}" for r in (scores, baseline))],
        ]
    assert isinstance(scores, ImageScores) and isinstance(baseline, ImageScores)
    pair = (scores, baseline)
    rows = [
        ["classifier Frechet distance", *(f"{s.frechet_distance:.3f}" for s in pair)],
        ["Inception-style score", *(f"{s.inception_score:.3f} ± {s.inception_score_std:.3f}"
                                    for s in pair)],
    ]
    for name in ("precision", "recall", "density", "coverage"):
        rows.append([name, *(f"{getattr(s.prdc, name):.3f}" for s in pair)])
    if scores.conditional_accuracy is not None:
        rows.append(["conditional accuracy",
                     *(f"{100 * (s.conditional_accuracy or 0.0):.2f} %" for s in pair)])
    return rows
