"""Parameter searches on Optuna, kept where every worker can reach them.

A study lives in Optuna's RDB storage: the ledger's PostgreSQL (any number of processes on any
number of machines join it by name; Optuna hands out trials, no scheduler of ours) or, on one
machine without PostgreSQL, a SQLite file. Each worker process runs trials until the study holds
the number asked for (``MaxTrialsCallback``: with N workers racing, up to N-1 more may finish).
Samplers: TPE (default), random, or a grid over every value of the space.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.samplers import BaseSampler, GridSampler, RandomSampler, TPESampler
from optuna.storages import RDBStorage
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, Trial, TrialState

from quantterminal.core.research.space import Range
from quantterminal.errors import StudyError, redact

optuna.logging.set_verbosity(logging.WARNING)  # one line per trial would drown the progress bar
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


TrialPruned = optuna.TrialPruned  # raised by an objective for a point that does not count


def storage_url(url: str) -> str:
    """A ledger URL as SQLAlchemy (Optuna's storage) names it."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def grid(space: Mapping[str, Range]) -> dict[str, list[Any]]:
    """Every value of each parameter (a range needs a step, or whole-number bounds)."""
    values: dict[str, list[Any]] = {}
    for name, r in space.items():
        if r.choices is not None:
            values[name] = list(r.choices)
            continue
        assert r.low is not None
        assert r.high is not None
        step = r.step if r.step is not None else (1 if r.integer else None)
        if step is None:
            raise ValueError(f"optimize.space.{name}: a grid search needs a step for a float range")
        count = round((r.high - r.low) / step) + 1
        points = [r.low + i * step for i in range(count)]
        values[name] = [int(p) for p in points] if r.integer else points
    return values


def sampler(kind: str, space: Mapping[str, Range], seed: int | None) -> BaseSampler:
    if kind == "grid":
        return GridSampler(grid(space), seed=seed)
    if kind == "random":
        return RandomSampler(seed=seed)
    return TPESampler(seed=seed)


def open_study(name: str, storage: str, kind: str, space: Mapping[str, Range], seed: int | None) -> optuna.Study:
    """The study ``name`` in ``storage``, created if new (maximising)."""
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental"; a killed worker's trials need them
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            rdb = RDBStorage(storage_url(storage), heartbeat_interval=60, grace_period=120)
        return optuna.create_study(
            study_name=name,
            storage=rdb,
            sampler=sampler(kind, space, seed),
            direction="maximize",
            load_if_exists=True,
        )
    except (ImportError, ValueError, RuntimeError) as exc:
        raise StudyError(f"study storage {redact(storage)}: {exc}") from None
    except Exception as exc:  # SQLAlchemy's OperationalError and friends: the database said no
        raise StudyError(f"study storage {redact(storage)}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None


def suggest(trial: Trial, space: Mapping[str, Range]) -> dict[str, Any]:
    """One point of ``space``, chosen by the study's sampler."""
    params: dict[str, Any] = {}
    for name, r in space.items():
        if r.choices is not None:
            params[name] = trial.suggest_categorical(name, list(r.choices))
        elif r.integer:
            assert r.low is not None
            assert r.high is not None
            step = int(r.step) if r.step is not None else 1
            params[name] = trial.suggest_int(name, int(r.low), int(r.high), step=step, log=r.log)
        else:
            assert r.low is not None
            assert r.high is not None
            params[name] = trial.suggest_float(name, r.low, r.high, step=r.step, log=r.log)
    return params


def run_trials(study: optuna.Study, objective: Callable[[Trial], float], total: int) -> None:
    """Run trials in this process until the study holds ``total`` finished ones."""
    if len(study.get_trials(deepcopy=False, states=FINISHED)) >= total:
        return
    study.optimize(objective, callbacks=[MaxTrialsCallback(total, states=FINISHED)], gc_after_trial=False)


def finished(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=FINISHED)


def best(study: optuna.Study) -> FrozenTrial | None:
    """The best completed trial (None if every trial was pruned or failed)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(done, key=lambda t: t.value if t.value is not None else float("-inf"), default=None)
