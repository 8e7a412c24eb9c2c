"""Permutation feature importance with every shuffled copy scored in a few model calls.

The definition is scikit-learn's ``permutation_importance(scoring="roc_auc")``: a column's
importance is the drop in ROC AUC when that column alone is shuffled, over ``repeats`` shuffles.
scikit-learn calls the model once per column and repeat (72 calls for 24 features x 3); for a
pipeline, each call's fixed costs (pandas preprocessing, one pass over 200 trees' Python
setup) dominated: 12.5 s of model-train's 16 s of plots on the demo's test set. Here the shuffled
copies are stacked and scored together, at most ``max_rows`` rows per call.

For churn-model's pipeline the preprocessing is also done once, not once per copy: when a column
reaches the estimator only through per-column transformers (imputer, scaler, one-hot encoder;
see ``output_blocks``), shuffling it shuffles exactly its own block of preprocessed columns, so
the copy is the preprocessed test set with that block's rows shuffled: the same numbers the
pipeline would compute from the shuffled frame. Columns an interaction mixes with others, and
models of any other shape, are preprocessed copy by copy as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def permutation_importance(
    model: Any,
    features: pd.DataFrame,
    labels: np.ndarray,
    *,
    repeats: int = 3,
    seed: int = 0,
    max_rows: int = 250_000,
    reuse_preprocessing: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ``repeats`` of each column's drop in ROC AUC.

    ``reuse_preprocessing=False`` preprocesses every shuffled copy (the reference the shortcut
    is tested against); both give the same numbers.
    """
    from sklearn.metrics import roc_auc_score

    rows = len(features)
    columns = list(features.columns)
    shortcut = _preprocessed_once(model, features) if reuse_preprocessing else None
    if shortcut is None:
        baseline = roc_auc_score(labels, model.predict_proba(features)[:, 1])
    else:
        baseline = roc_auc_score(labels, model[-1].predict_proba(shortcut[0])[:, 1])
    rng = np.random.default_rng(seed)
    per_call = max(1, max_rows // max(1, rows * repeats))  # columns whose copies fit one call
    drops = np.empty((len(columns), repeats))
    for start in range(0, len(columns), per_call):
        chunk = columns[start : start + per_call]
        shuffles = [(column, rng.permutation(rows)) for column in chunk for _ in range(repeats)]
        if shortcut is None:
            proba = model.predict_proba(_shuffled_frames(features, shuffles))[:, 1]
        else:
            inputs = _shuffled_inputs(model, features, *shortcut, shuffles)
            proba = model[-1].predict_proba(inputs)[:, 1]
        scores = [roc_auc_score(labels, p) for p in proba.reshape(len(shuffles), rows)]
        drops[start : start + len(chunk)] = baseline - np.reshape(scores, (len(chunk), repeats))
    return drops.mean(axis=1), drops.std(axis=1)


def _preprocessed_once(
    model: Any, features: pd.DataFrame
) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """The estimator's input for ``features`` and each column's block in it (``output_blocks``),
    or ``None`` when the model has no such blocks or its preprocessing is not a dense array."""
    blocks = output_blocks(model, list(features.columns))
    if blocks is None:
        return None
    preprocessed = model[:-1].transform(features)
    if not isinstance(preprocessed, np.ndarray):  # sparse or a frame
        return None
    return preprocessed, blocks


def _shuffled_frames(
    features: pd.DataFrame, shuffles: Sequence[tuple[str, np.ndarray]]
) -> pd.DataFrame:
    """The copies of ``features``, each with one column's rows shuffled, stacked in order."""
    copies = []
    for column, order in shuffles:
        copy = features.copy()
        copy[column] = features[column].to_numpy()[order]
        copies.append(copy)
    return pd.concat(copies, ignore_index=True)


def _shuffled_inputs(
    model: Any,
    features: pd.DataFrame,
    preprocessed: np.ndarray,
    blocks: dict[str, np.ndarray],
    shuffles: Sequence[tuple[str, np.ndarray]],
) -> np.ndarray:
    """The estimator's input for each shuffled copy, stacked in order: the preprocessed rows with
    the column's block shuffled, or, for a column without a block, the copy preprocessed."""
    rows = len(features)
    stacked = np.tile(preprocessed, (len(shuffles), 1))
    unblocked = [i for i, (column, _) in enumerate(shuffles) if column not in blocks]
    if unblocked:
        frames = _shuffled_frames(features, [shuffles[i] for i in unblocked])
        done = model[:-1].transform(frames)
        for k, i in enumerate(unblocked):
            stacked[i * rows : (i + 1) * rows] = done[k * rows : (k + 1) * rows]
    for i, (column, order) in enumerate(shuffles):
        block = blocks.get(column)
        if block is not None and block.size:
            stacked[i * rows : (i + 1) * rows, block] = preprocessed[order][:, block]
    return stacked


def output_blocks(model: Any, columns: Sequence[str]) -> dict[str, np.ndarray] | None:
    """For churn-model's pipeline (``FeatureFrame`` -> ``ColumnTransformer`` -> estimator): the
    preprocessed columns that each input column alone determines (empty when the pipeline drops
    it), for every column that only per-column transformers see. Columns an interaction reads
    are left out. ``None`` for any other model, or any transformer not known to be per-column
    (then nothing is shared).

    Per-column: ``SimpleImputer`` (no indicator, no column dropped), ``StandardScaler`` and
    ``OneHotEncoder`` (no category dropped or grouped) transform each column on its own, row by
    row; the widths found are checked against the transformer's output span.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from churn_model.feature_frame import FeatureFrame
    from churn_model.interactions import INTERACTIONS

    if not isinstance(model, Pipeline) or len(model.steps) != 3:
        return None
    frame, preprocess = model.steps[0][1], model.steps[1][1]
    if type(frame) is not FeatureFrame or type(preprocess) is not ColumnTransformer:
        return None
    consumed = {*frame.numeric, *frame.categorical}
    mixed = {c for name in frame.interactions for c in INTERACTIONS[name].inputs}
    blocks: dict[str, np.ndarray] = {}
    for name, transformer, inputs in preprocess.transformers_:
        if transformer == "drop":
            continue
        span = preprocess.output_indices_[name]
        if not isinstance(inputs, list) or not all(isinstance(c, str) for c in inputs):
            return None
        widths = _per_column_widths(transformer, len(inputs))
        if widths is None or sum(widths) != span.stop - span.start:
            return None
        position = span.start
        for column, width in zip(inputs, widths, strict=True):
            if column in blocks:
                return None
            blocks[column] = np.arange(position, position + width)
            position += width
    empty = np.arange(0)
    return {c: blocks.get(c, empty) if c in consumed else empty for c in columns if c not in mixed}


def _per_column_widths(transformer: Any, n_inputs: int) -> list[int] | None:
    """How many output columns each input column becomes, if every step is per-column."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    steps = [s for _, s in transformer.steps] if type(transformer) is Pipeline else [transformer]
    widths = [1] * n_inputs
    for step in steps:
        if type(step) is SimpleImputer:
            if step.add_indicator or len(step.get_feature_names_out()) != len(widths):
                return None
        elif type(step) is StandardScaler:
            continue
        elif type(step) is OneHotEncoder:
            categories = [len(c) for c in step.categories_]
            if step.drop is not None or any(w != 1 for w in widths):
                return None
            if len(step.get_feature_names_out()) != sum(categories):
                return None  # infrequent categories grouped
            widths = categories
        else:
            return None
    return widths
