"""`gancore.evaluation`: the feature classifier trains, caches and reloads; evaluate() puts
real data near its baseline and noise far from it; mixtures score their own samples as
fully covered; `gancore eval` runs on a checkpoint, a .npy file and an image folder, imports
no framework to parse its arguments, and names the argument in every refusal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from _helpers import MNIST_DIR
from PIL import Image

from gancore import GancoreError, InvalidArgumentError
from gancore.cli import main
from gancore.data import Dataset, GaussianMixture2D, load_digits, load_mnist
from gancore.evaluation import (
    CACHE_ENV,
    ClassifierSettings,
    ImageScores,
    cache_dir,
    classifier_key,
    evaluate,
    load_or_train_classifier,
    train_classifier,
)
from gancore.metrics import ModeReport
from gancore.training import train

# A few hundred steps on half of the 8x8 digits: seconds on one CPU core.
STEPS = 150


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_digits()


@pytest.fixture(scope="module")
def parts(digits: Dataset) -> tuple[Dataset, Dataset]:
    """The split evaluate() makes by default: (training part, held-out part)."""
    return digits.split(0.5, seed=0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One classifier cache for the module, so each classifier trains once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def settings() -> ClassifierSettings:
    return ClassifierSettings(steps=STEPS, backend="torch")


def _image_scores(report: Any) -> ImageScores:
    assert isinstance(report.scores, ImageScores) and isinstance(report.baseline, ImageScores)
    return report.scores


def test_the_feature_classifier_learns_the_digits(backend: Any,
                                                  parts: tuple[Dataset, Dataset]) -> None:
    clf = train_classifier(*parts, ClassifierSettings(steps=STEPS, backend=backend.name))
    assert clf.test_accuracy > 0.9
    assert clf.num_train + clf.num_test == 1797
    features = clf.features(parts[1].images[:50])
    probs = clf.probabilities(features)
    assert features.shape == (50, 128) and probs.shape == (50, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def test_the_classifier_gives_the_same_features_on_every_backend(
    backend: Any, parts: tuple[Dataset, Dataset], settings: ClassifierSettings, cache: Path
) -> None:
    clf = load_or_train_classifier(*parts, settings, cache)
    images = parts[1].images[:64]
    np.testing.assert_allclose(clf.features(images, backend.name), clf.features(images, "torch"),
                               rtol=1e-4, atol=1e-4)


def test_a_second_call_loads_the_cached_classifier(parts: tuple[Dataset, Dataset],
                                                   settings: ClassifierSettings,
                                                   tmp_path: Path) -> None:
    first = load_or_train_classifier(*parts, settings, tmp_path)
    second = load_or_train_classifier(*parts, settings, tmp_path)
    assert not first.loaded and second.loaded
    assert second.key == first.key and second.test_accuracy == first.test_accuracy
    images = parts[1].images[:100]
    np.testing.assert_array_equal(second.features(images), first.features(images))
    stored = sorted(p.name for p in tmp_path.iterdir())
    assert stored == [f"digits-{first.key[:16]}.json", f"digits-{first.key[:16]}.npz"]
    with np.load(tmp_path / stored[1], allow_pickle=False) as npz:  # named arrays, no pickle
        assert {name.partition("/")[0] for name in npz.files} == {"features", "head"}
    meta = json.loads((tmp_path / stored[0]).read_text())
    assert meta["key"] == first.key and meta["settings"]["steps"] == STEPS


def test_the_cache_key_changes_with_the_settings_and_the_data(
    parts: tuple[Dataset, Dataset], settings: ClassifierSettings
) -> None:
    key = classifier_key(*parts, settings)
    assert classifier_key(*parts, ClassifierSettings(steps=STEPS, backend="torch")) == key
    changed = [attrs.evolve(settings, steps=STEPS + 1), attrs.evolve(settings, seed=1),
               attrs.evolve(settings, lr=2e-3), attrs.evolve(settings, features=64),
               attrs.evolve(settings, backend="tensorflow")]
    keys = {classifier_key(*parts, s) for s in changed}
    train_part, test_part = parts
    keys.add(classifier_key(train_part.subset(np.arange(len(train_part) - 1)), test_part,
                            settings))
    flipped = attrs.evolve(test_part, images=-test_part.images)
    keys.add(classifier_key(train_part, flipped, settings))
    assert key not in keys and len(keys) == len(changed) + 2


def test_the_cache_lives_under_gancore_cache(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_dir() == tmp_path / "classifiers"
    monkeypatch.delenv(CACHE_ENV)
    assert cache_dir() == Path.home() / ".cache" / "gancore" / "classifiers"


def test_unseen_real_digits_score_near_the_baseline_and_noise_far_from_it(
    digits: Dataset, settings: ClassifierSettings, cache: Path
) -> None:
    # Two thirds of the digits are the "dataset" (split into the classifier's training part
    # and the held-out baseline); the last third is real data that neither has seen.
    known, unseen = digits.split(2 / 3, seed=1)
    real = evaluate(unseen.images, known, classifier=settings, cache_dir=cache)
    scores, baseline = _image_scores(real), real.baseline
    assert isinstance(baseline, ImageScores)
    assert real.num_samples == len(unseen) and real.classifier is not None
    assert real.classifier["test_accuracy"] > 0.85
    assert scores.frechet_distance < 2.0 * baseline.frechet_distance + 1.0
    assert scores.inception_score == pytest.approx(baseline.inception_score, rel=0.15)
    for name in ("precision", "recall", "coverage"):
        assert getattr(scores.prdc, name) > getattr(baseline.prdc, name) - 0.15, name

    noise = np.random.default_rng(0).uniform(-1, 1, unseen.images.shape).astype(np.float32)
    fake = _image_scores(evaluate(noise, known, classifier=settings, cache_dir=cache))
    assert fake.frechet_distance > 10.0 * baseline.frechet_distance
    assert fake.inception_score < 0.6 * baseline.inception_score
    assert fake.prdc.precision < 0.2 and fake.prdc.coverage < 0.2
    assert fake.conditional_accuracy is None


def test_conditional_accuracy_counts_the_requested_classes(
    digits: Dataset, settings: ClassifierSettings, cache: Path
) -> None:
    known, unseen = digits.split(2 / 3, seed=1)
    assert unseen.labels is not None
    right = _image_scores(evaluate(unseen.images, known, labels=unseen.labels,
                                   classifier=settings, cache_dir=cache))
    wrong = _image_scores(evaluate(unseen.images, known, labels=(unseen.labels + 1) % 10,
                                   classifier=settings, cache_dir=cache))
    assert right.conditional_accuracy is not None and right.conditional_accuracy > 0.85
    assert wrong.conditional_accuracy is not None and wrong.conditional_accuracy < 0.15


@pytest.mark.parametrize(("name", "modes"), [("ring", 8), ("grid", 25)])
def test_samples_of_the_mixture_itself_capture_every_mode(name: str, modes: int) -> None:
    mixture = getattr(GaussianMixture2D, name)()
    report = evaluate(mixture.sample(2500, seed=7), name)
    assert isinstance(report.scores, ModeReport) and isinstance(report.baseline, ModeReport)
    assert report.num_samples == 2500 and report.classifier is None
    for r in (report.scores, report.baseline):
        assert (r.modes_captured, r.num_modes) == (modes, modes)
        assert r.high_quality_fraction > 0.97 and r.reverse_kl < 0.02
    collapsed = np.repeat(mixture.means[:1], 2500, axis=0).astype(np.float32)
    one = evaluate(collapsed, name).scores
    assert isinstance(one, ModeReport)
    assert one.modes_captured == 1 and one.reverse_kl == pytest.approx(np.log(modes))


def test_samples_of_the_wrong_shape_are_refused(settings: ClassifierSettings,
                                                cache: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"sample shape \(n, 8, 8, 1\)"):
        evaluate(np.zeros((10, 28, 28, 1), np.float32), "digits", classifier=settings,
                 cache_dir=cache)
    with pytest.raises(InvalidArgumentError, match="dataset must be given"):
        evaluate(np.zeros((10, 2), np.float32))


def _cli(*argv: str) -> int:
    return main(["eval", *argv])


def test_the_cli_scores_a_checkpoint_against_the_baseline(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = train("dcgan", backend="torch", steps=2, progress=False, out_dir=tmp_path / "run")
    report_path = tmp_path / "report.json"
    assert _cli(str(out.out_dir / "checkpoint"), "--backend", "torch", "--classifier-steps",
                str(STEPS), "--cache", str(cache), "--json", str(report_path)) == 0
    shown = capsys.readouterr().out
    for line in ("classifier Frechet distance", "Inception-style score", "coverage",
                 "real baseline", "test accuracy"):
        assert line in shown
    report = json.loads(report_path.read_text())
    # By default as many samples are drawn as the held-out half holds (1797 - round(898.5)).
    assert report["dataset"] == "digits" and report["num_samples"] == 899
    # Two training steps are far from real digits; the held-out real part is not.
    assert report["scores"]["frechet_distance"] > 5 * report["baseline"]["frechet_distance"]
    assert report["classifier"]["settings"]["steps"] == STEPS


def test_the_cli_scores_a_mixture_checkpoint(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = train("ring", backend="torch", steps=2, progress=False, out_dir=tmp_path / "run",
                config={"batch_size": 16})
    assert _cli(str(out.out_dir / "checkpoint"), "--json", str(tmp_path / "r.json")) == 0
    assert "modes captured" in capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["num_samples"] == 2500 and report["baseline"]["modes_captured"] == 8
    assert report["scores"]["high_quality_fraction"] < 0.5  # two steps learn nothing


def test_the_cli_reads_npy_files_and_image_folders_alike(
    parts: tuple[Dataset, Dataset], cache: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    images = parts[1].images[:200]
    np.save(tmp_path / "samples.npy", images)
    folder = tmp_path / "pngs"
    folder.mkdir()
    pixels = np.round((images[..., 0] + 1.0) * 127.5).astype(np.uint8)
    for i, picture in enumerate(pixels):
        Image.fromarray(picture).save(folder / f"{i:03d}.png")
    reports = []
    for source in (tmp_path / "samples.npy", folder):
        json_path = tmp_path / f"{source.name}.json"
        assert _cli(str(source), "--dataset", "digits", "--backend", "torch",
                    "--classifier-steps", str(STEPS), "--cache", str(cache),
                    "--json", str(json_path)) == 0
        reports.append(json.loads(json_path.read_text()))
    capsys.readouterr()
    npy, png = reports
    assert npy["num_samples"] == png["num_samples"] == 200
    # PNG stores 8-bit pixels, so the folder's images differ from the array's by rounding.
    assert png["scores"]["frechet_distance"] == pytest.approx(
        npy["scores"]["frechet_distance"], rel=0.05, abs=0.05)


def test_the_eval_command_imports_no_framework_until_it_runs() -> None:
    code = ("import sys, gancore.evaluation, gancore.cli; gancore.cli._parser(); "
            "print(sorted(m for m in ('torch', 'tensorflow', 'scipy', 'gancore.training') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_samples": 0}, r"num_samples must be an int >= 1; received 0"),
        ({"seed": -1}, r"seed must be an int >= 0; received -1"),
        ({"split_seed": 1.5}, r"split_seed must be an int >= 0; received 1.5"),
        ({"train_fraction": 1.0}, r"train_fraction must be a number in \(0, 1\); received 1.0"),
        ({"dataset": 3}, r"dataset must be a dataset name or a gancore.data.Dataset; received int"),
        ({"dataset": "nope"}, r"dataset 'nope' is not installed \(installed datasets: .*digits"),
        ({"backend": 1}, r"backend must be a backend name .*; received int"),
        ({"labels": np.zeros(3, np.int64)}, r"labels must hold one integer class per sample "
                                            r"\(10\); received int64 of shape \(3,\)"),
    ],
    ids=["num_samples", "seed", "split_seed", "train_fraction", "dataset_type",
         "dataset_name", "backend", "labels"],
)
def test_bad_arguments_are_refused_with_what_is_allowed(kwargs: dict[str, Any], message: str,
                                                        settings: ClassifierSettings,
                                                        cache: Path) -> None:
    options: dict[str, Any] = {"dataset": "digits", "classifier": settings, "cache_dir": cache,
                               **kwargs}
    with pytest.raises(GancoreError, match=message):
        evaluate(np.zeros((10, 8, 8, 1), np.float32), **options)


def test_bad_samples_are_refused_with_what_was_received(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"image samples must lie in \[-1, 1\]; "
                                                   r"received values in \[0, 255\]"):
        evaluate(np.linspace(0.0, 255.0, 256, dtype=np.float32).reshape(4, 8, 8, 1), "digits")
    with pytest.raises(InvalidArgumentError, match="samples must be finite floats"):
        evaluate(np.full((4, 2), np.nan, np.float32), "ring")
    with pytest.raises(InvalidArgumentError, match=r"samples must be a checkpoint folder, an "
                                                   r"existing .npy file or an image folder; "
                                                   r"received '.*missing.npy'"):
        evaluate(tmp_path / "missing.npy", "ring")
    with pytest.raises(InvalidArgumentError, match=r"samples must be a checkpoint, a .npy path, "
                                                   r"an image folder or an array; received list"):
        evaluate([[0.0, 1.0]], "ring")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"an image folder can only be scored "
                                                   r"against an image dataset"):
        evaluate(tmp_path, "ring")


def test_the_cli_reports_a_bad_argument_and_exits_2(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "points.npy", np.zeros((5, 2), np.float32))
    assert _cli(str(tmp_path / "points.npy"), "--dataset", "ring", "--n", "0") == 2
    assert "gancore: error: num_samples must be an int >= 1; received 0" in (
        capsys.readouterr().err)
    assert _cli(str(tmp_path / "points.npy")) == 2
    assert "dataset must be given" in capsys.readouterr().err


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"real MNIST files not found at {MNIST_DIR}")
def test_the_held_out_half_of_real_mnist_scores_exactly_its_own_baseline(
        cache: Path) -> None:
    """On the real MNIST test set: evaluate() splits it, and the held-out half itself, given
    as samples, gets the baseline's scores (the same images in the same feature space)."""
    data = load_mnist(MNIST_DIR)
    _, held_out = data.split(0.5, seed=0)
    report = evaluate(held_out.images, "mnist", dataset_options={"folder": str(MNIST_DIR)},
                      labels=held_out.labels, classifier=ClassifierSettings(steps=30),
                      cache_dir=cache)
    scores, baseline = _image_scores(report), report.baseline
    assert report.num_samples == len(held_out) == 5000
    assert report.classifier is not None and report.classifier["num_train"] == 5000
    assert scores.frechet_distance == pytest.approx(baseline.frechet_distance)
    assert scores.inception_score == pytest.approx(baseline.inception_score)
    assert scores.conditional_accuracy == pytest.approx(report.classifier["test_accuracy"])
