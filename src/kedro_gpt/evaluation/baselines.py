"""Classic text-classification baselines from scikit-learn, trained and scored on the same split
as the fine-tuned model: TF-IDF + logistic regression, and NB-weighted bigram logistic regression
(NBSVM-style, Wang & Manning 2012: binarised uni+bigram counts scaled by the naive-Bayes
log-count ratio, one-vs-rest for more than two labels)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression


def tfidf_logreg(
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    test_texts: Sequence[str],
    c: float = 4.0,
) -> list[int]:
    """Predictions of a TF-IDF (unigrams + bigrams, sublinear tf) logistic regression."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x_train = vectorizer.fit_transform(train_texts)
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(x_train, train_labels)
    return model.predict(vectorizer.transform(test_texts)).tolist()


def _log_count_ratio(x: sparse.csr_matrix, positive: np.ndarray, alpha: float) -> np.ndarray:
    p = alpha + np.asarray(x[positive].sum(axis=0)).ravel()
    q = alpha + np.asarray(x[~positive].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def nb_logreg(
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    test_texts: Sequence[str],
    c: float = 4.0,
    alpha: float = 1.0,
) -> list[int]:
    """Predictions of NB-weighted binarised uni+bigram logistic regression (NBSVM-style)."""
    vectorizer = CountVectorizer(ngram_range=(1, 2), binary=True)
    x_train = vectorizer.fit_transform(train_texts).tocsr()
    x_test = vectorizer.transform(test_texts).tocsr()
    y = np.asarray(train_labels)
    classes = np.unique(y)
    if len(classes) == 1:
        return [int(classes[0])] * len(test_texts)
    binary = len(classes) == 2
    scores = []
    for cls in classes[1:] if binary else classes:
        r = _log_count_ratio(x_train, y == cls, alpha)
        model = LogisticRegression(C=c, max_iter=2000)
        model.fit(x_train.multiply(r).tocsr(), (y == cls).astype(int))
        scores.append(model.decision_function(x_test.multiply(r).tocsr()))
    if binary:
        return [int(classes[1] if s > 0 else classes[0]) for s in scores[0]]
    return classes[np.argmax(np.vstack(scores), axis=0)].astype(int).tolist()
