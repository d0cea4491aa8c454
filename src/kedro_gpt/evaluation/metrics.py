"""Task metrics from the field's libraries: scikit-learn for labels, sacrebleu for text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import sacrebleu
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, confusion_matrix, f1_score


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1 and the confusion matrix (rows: true label, columns: predicted)."""
    indices = list(range(len(labels)))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=indices, average="macro", zero_division=0)
        ),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=indices).tolist(),
        "examples": len(y_true),
    }


def majority_baseline(train_labels: Sequence[int], eval_labels: Sequence[int]) -> list[int]:
    """Predict the most frequent training label for every held-out example."""
    majority = Counter(train_labels).most_common(1)[0][0]
    return [majority] * len(eval_labels)


def text_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu's defaults), on a 0-100 scale."""
    refs = [list(references)]
    return {
        "bleu": float(sacrebleu.corpus_bleu(list(hypotheses), refs).score),
        "chrf": float(sacrebleu.corpus_chrf(list(hypotheses), refs).score),
    }


def confusion_figure(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str) -> Figure:
    """The confusion matrix as a plot."""
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay(np.asarray(matrix), display_labels=list(labels)).plot(
        ax=ax, colorbar=False
    )
    ax.set_title(title)
    fig.tight_layout()
    return fig
