"""FiftyOne review loop: journal results out to a dataset, human corrections back in, evaluation.

FiftyOne is imported only inside these functions (it starts a database), never when wildeye is imported.
"""

from __future__ import annotations

__all__ = ["sync_run", "pull_corrections", "evaluate_journal", "launch_review"]


def sync_run(out_dir, dataset_name=None, **kwargs):
    from wildeye.review.dataset import sync_run as _sync

    return _sync(out_dir, dataset_name, **kwargs)


def pull_corrections(out_dir, dataset_name=None):
    from wildeye.review.corrections import pull_corrections as _pull

    return _pull(out_dir, dataset_name)


def evaluate_journal(out_dir, dataset_name=None):
    from wildeye.review.evaluate import evaluate_journal as _evaluate

    return _evaluate(out_dir, dataset_name)


def launch_review(dataset_name, **kwargs):
    from wildeye.review.app import launch_review as _launch

    return _launch(dataset_name, **kwargs)
