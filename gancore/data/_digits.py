"""scikit-learn's 8x8 handwritten digits: the small default dataset, no download needed."""

from __future__ import annotations

import numpy as np

from gancore._errors import GancoreError
from gancore.data._dataset import Dataset


def load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 grey digits as `Dataset` `"digits"`: (1797, 8, 8, 1), 10 classes.

    The pixel values 0..16 are mapped to `[-1, 1]` as `x / 8 - 1`. The data ships inside
    scikit-learn, so nothing is downloaded.
    """
    try:
        # Imported here, not at module level: `import gancore.data` must stay light.
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as e:
        raise GancoreError(
            "load_digits needs scikit-learn, which is not installed: pip install scikit-learn"
        ) from e
    digits = sklearn_load_digits()
    images = (np.asarray(digits.images, dtype=np.float32) / 8.0 - 1.0)[..., np.newaxis]
    return Dataset(
        name="digits",
        images=images,
        labels=np.asarray(digits.target, dtype=np.int64),
        num_classes=10,
        class_names=tuple(str(name) for name in digits.target_names),
    )
