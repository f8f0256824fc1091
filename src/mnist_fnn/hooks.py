"""Weights & Biases tracking of every training configuration, as Kedro hooks.

``WandbHooks`` opens one W&B run per configuration namespace when its
``<namespace>.train_model`` node starts. The run receives each epoch's record while
the network trains, the loss-comparison chart and the saved model file when training
ends, and the test-set confusion matrix and summary when
``<namespace>.evaluate_model`` ends. The network code and the nodes do not import
wandb.

Settings come from ``conf/<env>/wandb.yml`` (see ``WandbSettings``); the
``WANDB_MODE`` environment variable overrides ``mode``.

Under the sequential and thread runners one run stays open from the train node to
the evaluate node. Under ``ParallelRunner`` each node runs in a worker process, and a
W&B run must finish in the process that started it. So there the train node's
process finishes its run after saving the model, and the evaluate node's process
reopens the same run id with ``resume="allow"``.

Ctrl+C (``KeyboardInterrupt``) and SIGTERM (``SystemExit`` from ``SafetyHooks``) are
not ``Exception`` subclasses, so Kedro calls no error hook for them. An ``atexit``
handler then finishes the runs still open as failed and stops wandb-core.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import wandb
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

from mnist_fnn.epoch_listeners import add_epoch_listener, remove_epoch_listener

logger = logging.getLogger(__name__)

WANDB_CONFIG_KEY = "wandb"
MODES = ("offline", "online", "disabled")
DEFAULT_PROJECT = "mnist-question10-final"
TRAIN_NODE = "train_model"
EVALUATE_NODE = "evaluate_model"
LOSS_CHART_TITLE = "Loss Function Comparison"

# Exit code and summary "error" of a run still open when the process exits. Python
# does not pass the process's exit code to atexit handlers, so Ctrl+C and SIGTERM
# both record 1, the code that `kedro run` exits with after Ctrl+C.
INTERRUPTED_EXIT_CODE = 1
INTERRUPTED_ERROR = "The process exited before the run finished"

# Carries the pipeline's settings, session id and save version from the `kedro run`
# process to ParallelRunner workers, which re-create the hooks from settings.py and
# so miss `after_context_created` and `before_pipeline_run` when started by spawn.
CONTEXT_ENVIRONMENT_VARIABLE = "MNIST_FNN_WANDB_CONTEXT"

_SETTING_KEYS = ("mode", "project", "entity", "tags", "dir")
_SUMMARY_KEYS = ("test_accuracy", "test_cross_entropy_loss", "test_squared_error_loss")


class WandbCredentialsError(RuntimeError):
    """No W&B API key was found for a run in online mode."""


@dataclasses.dataclass(frozen=True)
class WandbSettings:
    """Run recording settings, read from ``conf/<env>/wandb.yml``.

    Attributes:
        mode: ``offline`` writes runs to ``dir`` only, ``online`` also sends them to
            W&B, ``disabled`` records nothing.
        project: W&B project of every run.
        entity: W&B user or team that owns the project; the account's default entity
            when None.
        tags: Tags added to every run, beside the session and model version tags.
        dir: Absolute folder in which W&B creates its ``wandb/`` folder of runs.
    """

    mode: str = "offline"
    project: str = DEFAULT_PROJECT
    entity: str | None = None
    tags: tuple[str, ...] = ()
    dir: Path = Path()

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any],
        project_path: Path,
        environ: dict[str, str] | os._Environ = os.environ,
    ) -> WandbSettings:
        """Validate the ``wandb`` configuration and apply ``WANDB_MODE``.

        Args:
            config: The mapping loaded from ``wandb.yml``. Missing keys take the
                defaults.
            project_path: Root of the Kedro project, against which a relative
                ``dir`` is resolved.
            environ: Environment variables to read ``WANDB_MODE`` from.

        Raises:
            ValueError: If a key is unknown or a value is invalid.
        """
        unknown = sorted(set(config) - set(_SETTING_KEYS))
        if unknown:
            raise ValueError(
                f"Unknown keys {unknown} in the W&B configuration (wandb.yml). "
                f"Expected some of {list(_SETTING_KEYS)}."
            )

        mode_source = "WANDB_MODE" if environ.get("WANDB_MODE") else "wandb.yml"
        mode = str(environ.get("WANDB_MODE") or config.get("mode") or "offline")
        if mode.lower() not in MODES:
            raise ValueError(
                f"Invalid W&B mode {mode!r} in {mode_source}: expected one of "
                f"{', '.join(MODES)}."
            )

        project = config.get("project") or DEFAULT_PROJECT
        tags = config.get("tags") or ()
        if isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags):
            raise ValueError(
                f"Invalid W&B tags {tags!r} in wandb.yml: expected a list of strings."
            )

        directory = Path(config.get("dir") or ".").expanduser()
        if not directory.is_absolute():
            directory = Path(project_path) / directory

        return cls(
            mode=mode.lower(),
            project=str(project),
            entity=config.get("entity") or None,
            tags=tuple(tags),
            dir=directory.resolve(),
        )

    @property
    def runs_folder(self) -> Path:
        """Folder that W&B writes ``offline-run-*`` and ``run-*`` folders into."""
        return self.dir / "wandb"


@dataclasses.dataclass(frozen=True)
class _PipelineContext:
    settings: WandbSettings
    session_id: str
    save_version: str
    env: str | None
    main_pid: int

    def to_json(self) -> str:
        fields = dataclasses.asdict(self)
        fields["settings"] = {
            **dataclasses.asdict(self.settings),
            "tags": list(self.settings.tags),
            "dir": str(self.settings.dir),
        }
        return json.dumps(fields)

    @classmethod
    def from_json(cls, text: str) -> _PipelineContext:
        fields = json.loads(text)
        settings = fields.pop("settings")
        settings["tags"] = tuple(settings["tags"])
        settings["dir"] = Path(settings["dir"])
        return cls(settings=WandbSettings(**settings), **fields)


@dataclasses.dataclass
class _TrackedRun:
    """One open W&B run and what the hooks collect for it in this process."""

    run: Any
    epochs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    listener: Callable[[dict[str, Any]], None] | None = None
    catalog: Any = None
    unsaved_outputs: set[str] = dataclasses.field(default_factory=set)


def run_id_for(session_id: str, namespace: str) -> str:
    """Derive the W&B run id of one configuration in one Kedro session.

    Every process of a ``ParallelRunner`` run derives the same id, so the evaluate
    node's process can resume the run that the train node's process started.
    """
    digest = hashlib.sha256(f"{session_id}/{namespace}".encode()).hexdigest()
    return digest[:16]


def find_api_key(base_url: str) -> str | None:
    """Look up a W&B API key without contacting the server.

    Checks ``WANDB_API_KEY``, then the netrc file (``$NETRC`` or ``~/.netrc``) entry
    for ``base_url``, then the ``api_key`` of the W&B settings files.
    """
    if os.environ.get("WANDB_API_KEY"):
        return os.environ["WANDB_API_KEY"]

    # NOTE: wandb 0.31 exposes this lookup publicly only as the deprecated
    # `wandb.api.api_key`, which prints a deprecation warning on every access.
    from wandb.sdk.lib import wbauth  # noqa: PLC0415

    return (
        wbauth.read_netrc_auth(host=base_url) or wandb.setup().settings.api_key or None
    )


class WandbHooks:
    """Record every training configuration of a Kedro run as one W&B run."""

    def __init__(self) -> None:
        self._settings: WandbSettings | None = None
        self._save_version: str | None = None
        self._context: _PipelineContext | None = None
        self._previous_environment_value: str | None = None
        self._runs: dict[str, _TrackedRun] = {}
        self._lock = threading.RLock()
        self._exit_handler_registered = False

    @hook_impl
    def after_context_created(self, context) -> None:
        try:
            config = context.config_loader[WANDB_CONFIG_KEY]
        except MissingConfigException:
            config = {}
        self._settings = WandbSettings.from_config(
            dict(config), Path(context.project_path)
        )

    @hook_impl
    def after_catalog_created(self, save_version: str | None) -> None:
        self._save_version = save_version

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Check the credentials of online mode and share the context with workers.

        Raises:
            WandbCredentialsError: In online mode, if no API key is found, which
                stops the run before any node starts.
        """
        settings = self._settings or WandbSettings.from_config(
            {}, Path(run_params["project_path"])
        )
        if settings.mode == "online":
            _require_api_key()

        session_id = str(run_params["run_id"])
        self._context = _PipelineContext(
            settings=settings,
            session_id=session_id,
            save_version=self._save_version or session_id,
            env=run_params.get("env"),
            main_pid=os.getpid(),
        )
        self._runs.clear()
        self._previous_environment_value = os.environ.get(CONTEXT_ENVIRONMENT_VARIABLE)
        os.environ[CONTEXT_ENVIRONMENT_VARIABLE] = self._context.to_json()

        if settings.mode != "disabled":
            logger.info(
                "Tracking configurations in W&B project %s, mode %s, runs under %s",
                settings.project,
                settings.mode,
                settings.runs_folder,
            )

    @hook_impl
    def before_node_run(self, node, catalog, inputs: dict[str, Any]) -> None:
        namespace = _tracked_namespace(node, TRAIN_NODE)
        context = self._current_context()
        if namespace is None or context is None:
            return

        config = {
            **_merge_parameters(node.inputs, inputs),
            "kedro": {
                "session_id": context.session_id,
                "save_version": context.save_version,
                "env": context.env,
                "namespace": namespace,
            },
        }
        tracked = self._open_run(context, namespace, config)
        tracked.catalog = catalog
        tracked.listener = _EpochLogger(tracked)
        add_epoch_listener(tracked.listener)

    @hook_impl
    def after_node_run(self, node, outputs: dict[str, Any]) -> None:
        train_namespace = _tracked_namespace(node, TRAIN_NODE)
        if train_namespace is not None:
            tracked = self._runs.get(train_namespace)
            if tracked is None:
                return
            _remove_listener(tracked)
            _log_loss_chart(tracked)
            # Kedro saves the outputs after this hook. after_dataset_saved logs the
            # model file and, in a worker, finishes the run after the last save.
            tracked.unsaved_outputs = set(outputs)
            return

        evaluate_namespace = _tracked_namespace(node, EVALUATE_NODE)
        context = self._current_context()
        if evaluate_namespace is None or context is None:
            return
        metrics = outputs.get(f"{evaluate_namespace}.metrics")
        tracked = self._runs.get(evaluate_namespace) or self._open_run(
            context, evaluate_namespace, config=None
        )
        if isinstance(metrics, dict):
            _log_metrics(tracked, metrics)
        self._finish_run(evaluate_namespace, exit_code=0)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node) -> None:
        namespace = _tracked_namespace(node, TRAIN_NODE)
        tracked = self._runs.get(namespace) if namespace else None
        if tracked is None or dataset_name not in tracked.unsaved_outputs:
            return

        if dataset_name == f"{namespace}.model":
            _log_model_artifact(tracked, dataset_name, self._current_context())
        tracked.unsaved_outputs.discard(dataset_name)
        if not tracked.unsaved_outputs and self._in_worker_process():
            self._finish_run(namespace, exit_code=0)

    @hook_impl
    def on_node_error(self, error: Exception, node) -> None:
        namespace = _tracked_namespace(node, TRAIN_NODE) or _tracked_namespace(
            node, EVALUATE_NODE
        )
        context = self._current_context()
        if namespace is None or context is None:
            return

        tracked = self._runs.get(namespace) or self._open_run(
            context, namespace, config=None
        )
        _remove_listener(tracked)
        tracked.run.summary["error"] = f"{type(error).__name__}: {error}"
        logger.warning(
            "Marking W&B run %s of configuration %s as failed: node %s raised %s",
            tracked.run.id,
            namespace,
            node.name,
            type(error).__name__,
        )
        self._finish_run(namespace, exit_code=1)

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._close_pipeline(exit_code=0)

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._close_pipeline(exit_code=1)

    def _current_context(self) -> _PipelineContext | None:
        """Return this run's context, or None when nothing is to be recorded.

        A ParallelRunner worker started by spawn has not seen
        ``before_pipeline_run`` and reads the context from the environment.
        """
        if self._context is None:
            text = os.environ.get(CONTEXT_ENVIRONMENT_VARIABLE)
            if text:
                self._context = _PipelineContext.from_json(text)
        if self._context is None or self._context.settings.mode == "disabled":
            return None
        return self._context

    def _in_worker_process(self) -> bool:
        return self._context is not None and os.getpid() != self._context.main_pid

    def _open_run(
        self,
        context: _PipelineContext,
        namespace: str,
        config: dict[str, Any] | None,
    ) -> _TrackedRun:
        """Start the configuration's run, or resume it when another process began it.

        ``config`` is None when resuming, so the parameters recorded by the train
        node's process are kept.
        """
        settings = context.settings
        settings.dir.mkdir(parents=True, exist_ok=True)
        tags = [
            *settings.tags,
            f"kedro-session-{context.session_id}",
            f"model-version-{context.save_version}",
        ]
        with self._lock:
            run = wandb.init(
                project=settings.project,
                entity=settings.entity,
                name=namespace,
                id=run_id_for(context.session_id, namespace),
                resume="allow",
                config=config,
                tags=tags,
                dir=str(settings.dir),
                mode=settings.mode,
                job_type="train",
                # Several configurations can train at once under the thread runner.
                reinit="create_new",
                # Kedro's log already records the console, and each run then gets
                # only its own figures when configurations train side by side.
                settings=wandb.Settings(console="off"),
            )
            tracked = _TrackedRun(run=run)
            self._runs[namespace] = tracked
            # wandb registers the atexit handler that stops wandb-core when it starts
            # wandb-core, at the latest in the first wandb.init call. atexit calls
            # handlers in reverse order of registration, so this one runs first,
            # while wandb-core still accepts the runs' last records.
            if not self._exit_handler_registered:
                atexit.register(self._finish_runs_at_exit)
                self._exit_handler_registered = True
        return tracked

    def _finish_run(self, namespace: str, exit_code: int) -> None:
        with self._lock:
            tracked = self._runs.pop(namespace, None)
        if tracked is None:
            return

        tracked.run.finish(exit_code=exit_code)
        # A ParallelRunner worker exits without running atexit handlers, so it stops
        # the wandb-core service it started here.
        if self._in_worker_process():
            wandb.teardown()

    def _finish_runs_at_exit(self) -> None:
        """Finish as failed the runs that are open when the process exits.

        Kedro calls no error hook for an exception that is not an ``Exception``,
        such as ``KeyboardInterrupt`` or ``SystemExit``, so the runs that a node
        opened are still open here after one.
        """
        self._exit_handler_registered = False
        if not self._runs:
            return
        for namespace, tracked in list(self._runs.items()):
            logger.warning(
                "Marking W&B run %s of configuration %s as failed with exit code %d: "
                "the process is exiting before the run finished",
                tracked.run.id,
                namespace,
                INTERRUPTED_EXIT_CODE,
            )
            tracked.run.summary["error"] = INTERRUPTED_ERROR
        self._close_pipeline(exit_code=INTERRUPTED_EXIT_CODE)

    def _close_pipeline(self, exit_code: int) -> None:
        """Finish the runs still open, stop wandb-core and restore the environment."""
        if self._exit_handler_registered:
            atexit.unregister(self._finish_runs_at_exit)
            self._exit_handler_registered = False
        for namespace in list(self._runs):
            tracked = self._runs[namespace]
            _remove_listener(tracked)
            self._finish_run(namespace, exit_code=exit_code)
        wandb.teardown()

        if self._previous_environment_value is None:
            os.environ.pop(CONTEXT_ENVIRONMENT_VARIABLE, None)
        else:
            os.environ[CONTEXT_ENVIRONMENT_VARIABLE] = self._previous_environment_value
        self._previous_environment_value = None
        self._context = None


class _EpochLogger:
    """Epoch listener that sends each epoch's record to one run."""

    def __init__(self, tracked: _TrackedRun) -> None:
        self._tracked = tracked

    def __call__(self, record: dict[str, Any]) -> None:
        values = {
            key: value
            for key, value in record.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        self._tracked.epochs.append(values)
        self._tracked.run.log(values)


def _tracked_namespace(node, function_name: str) -> str | None:
    """Return the node's namespace if it is that namespace's ``function_name`` node."""
    namespace = getattr(node, "namespace", None)
    if namespace and node.name == f"{namespace}.{function_name}":
        return namespace
    return None


def _merge_parameters(input_names: Iterable[str], inputs: dict[str, Any]) -> dict:
    """Merge the node's ``params:`` inputs in input order, later ones winning.

    For the train node this is ``params:training`` overridden by
    ``params:configurations.<name>``, the merge ``resolve_configuration`` does.
    """
    merged: dict[str, Any] = {}
    for name in input_names:
        value = inputs.get(name)
        if name.startswith("params:") and isinstance(value, dict):
            merged.update(value)
    return merged


def _require_api_key() -> None:
    base_url = wandb.setup().settings.base_url
    if find_api_key(base_url) is None:
        raise WandbCredentialsError(
            f"W&B mode is online but no API key was found for {base_url}. Log in "
            "with `wandb login` or set WANDB_API_KEY, or record the runs offline "
            "with WANDB_MODE=offline or `mode: offline` in conf/base/wandb.yml."
        )


def _remove_listener(tracked: _TrackedRun) -> None:
    if tracked.listener is not None:
        remove_epoch_listener(tracked.listener)
        tracked.listener = None


def _log_loss_chart(tracked: _TrackedRun) -> None:
    """Log cross-entropy and squared error per epoch as one line-series chart."""
    epochs = [
        record
        for record in tracked.epochs
        if "cross_entropy_loss" in record and "squared_error_loss" in record
    ]
    if not epochs:
        return
    chart = wandb.plot.line_series(
        xs=[record.get("epoch", index) for index, record in enumerate(epochs)],
        ys=[
            [record["cross_entropy_loss"] for record in epochs],
            [record["squared_error_loss"] for record in epochs],
        ],
        keys=["cross-entropy", "squared error"],
        title=LOSS_CHART_TITLE,
        xname="epoch",
    )
    tracked.run.log({"loss_function_comparison": chart})


def _log_metrics(tracked: _TrackedRun, metrics: dict[str, Any]) -> None:
    """Log the test-set summary, confusion matrix and per-class scores."""
    for key in _SUMMARY_KEYS:
        if key in metrics:
            tracked.run.summary[key] = metrics[key]

    charts: dict[str, Any] = {}
    confusion = metrics.get("confusion_matrix")
    if confusion:
        # Expand the counts to one (true, predicted) pair per test image, which is
        # the input wandb.plot.confusion_matrix takes.
        y_true: list[int] = []
        predictions: list[int] = []
        for true_class, row in enumerate(confusion):
            for predicted_class, count in enumerate(row):
                y_true.extend([true_class] * int(count))
                predictions.extend([predicted_class] * int(count))
        charts["test_confusion_matrix"] = wandb.plot.confusion_matrix(
            y_true=y_true,
            preds=predictions,
            class_names=[str(label) for label in range(len(confusion))],
            title="Test Confusion Matrix",
        )

    per_class = metrics.get("per_class")
    if isinstance(per_class, dict) and per_class:
        columns = list(per_class)
        rows = zip(*(per_class[column] for column in columns), strict=True)
        charts["test_per_class"] = wandb.Table(
            columns=["class", *columns],
            data=[[label, *values] for label, values in enumerate(rows)],
        )

    if charts:
        tracked.run.log(charts)


def _log_model_artifact(
    tracked: _TrackedRun, dataset_name: str, context: _PipelineContext | None
) -> None:
    """Log the versioned model file that the catalog has just saved."""
    path = _saved_file(tracked.catalog, dataset_name)
    if path is None:
        logger.warning(
            "Not logging %s to W&B: no saved file found for the dataset", dataset_name
        )
        return

    metadata = {"kedro_dataset": dataset_name}
    if context is not None:
        metadata["kedro_session_id"] = context.session_id
        metadata["kedro_save_version"] = context.save_version
    artifact = wandb.Artifact(
        name=dataset_name.replace(".", "-"), type="model", metadata=metadata
    )
    # The default "mutable" policy copies the file to wandb's staging folder, by
    # default ~/.local/share/wandb/artifacts/staging, and in wandb 0.31 an offline
    # run leaves that copy there. A saved model version is never rewritten, so the
    # artifact refers to it in place.
    # NOTE: `wandb sync` of an offline run reads the file from this path, so the
    # model version must still exist when the run is synced.
    artifact.add_file(str(path), name=path.name, policy="immutable")
    tracked.run.log_artifact(artifact)


def _saved_file(catalog, dataset_name: str) -> Path | None:
    """Return the local file a catalog dataset was saved to, if it is one.

    Versioned datasets save to ``<filepath>/<save version>/<file name>``.
    """
    dataset = catalog.get(dataset_name) if catalog is not None else None
    if dataset is None:
        return None

    # `_get_save_path()` raises once the file exists, so the versioned path is
    # rebuilt from the save version here.
    save_version = None
    if hasattr(dataset, "resolve_save_version"):
        save_version = dataset.resolve_save_version()
    if save_version:
        path = dataset._get_versioned_path(save_version)
    else:
        path = getattr(dataset, "_filepath", None)

    if path is None or not Path(str(path)).is_file():
        return None
    return Path(str(path))
