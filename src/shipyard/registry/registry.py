"""The model registry: register immutable versions of models, name them by alias, load them.

A version is a flavor's serialized model stored as one content-addressed blob in the datastore,
plus a row in the metadata database saying what it is (flavor, signature, metrics), where it
came from (lineage: flow, run, step, task, artifact, parameters, code) and who made it when.
Versions never change, except for their description and tags; what moves is an alias
(`production`), and every move is kept in its history so that a bad release can be rolled back.

`ModelRegistry` works on explicit stores; `shipyard.registry.models` is the module-level API
that opens them from the configuration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shipyard.config import Config
from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata.registry_records import (
    AliasEventRecord,
    LineageRecord,
    ModelRecord,
    ModelVersionRecord,
)
from shipyard.registry.environment import check_environment, current_environment
from shipyard.registry.feature_sets import (
    FEATURE_SET_KEY,
    FeatureSetRef,
    load_fitted,
    load_snapshot,
    store_fitted,
)
from shipyard.registry.flavors import (
    Flavor,
    FlavorContext,
    FlavorError,
    detect_flavor,
    get_flavor,
)
from shipyard.registry.flavors.inputs import InspectsInputs
from shipyard.registry.refs import ModelRef, check_name
from shipyard.registry.signature import InputRefused, Signature

if TYPE_CHECKING:
    import pandas

    from shipyard.client import Run
    from shipyard.datastore import ArtifactStore, FlowClasses
    from shipyard.features.fitted import FittedFeatureSet
    from shipyard.features.online import OnlineStore
    from shipyard.features.snapshot import TrainingSnapshot
    from shipyard.metadata.contract import MetadataBackend

__all__ = [
    "AliasEvent",
    "FeatureSetRef",
    "Lineage",
    "LoadedModel",
    "ModelRegistry",
    "ModelVersion",
    "RegisteredModel",
]


@dataclass(frozen=True)
class Lineage:
    """Where a version came from: the task that produced it, the artifact, the run's inputs."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    artifact_name: str | None = None
    artifact_sha256: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    code_hash: str | None = None

    @property
    def run_pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}"

    @property
    def task_pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, as recorded: it never changes but for description and tags."""

    name: str
    version: int
    flavor: str
    signature: Signature | None
    metrics: dict[str, float]
    lineage: Lineage | None
    created_at: datetime
    user: str
    description: str
    tags: dict[str, str]
    payload_sha256: str
    payload_size: int = 0
    #: `{"python": "3.11.7", "libraries": {"sklearn": "1.9.1"}}`: what saved the payload.
    environment: dict[str, Any] = field(default_factory=dict)
    #: The feature set the model was trained with (`ModelRegistry.feature_set_of` reads its
    #: fitted state); None for a model registered without one.
    feature_set: FeatureSetRef | None = None

    @property
    def ref(self) -> str:
        """`name/version`, the reference that always names exactly this version."""
        return f"{self.name}/{self.version}"

    @property
    def run(self) -> Run | None:
        """The client `Run` the version was registered from; None for one made outside flows.

        Looked up in the global namespace: a version names its run unambiguously, whoever
        started it.
        """
        if self.lineage is None:
            return None
        from shipyard.client import Run, in_namespace

        with in_namespace(None):
            return Run(self.lineage.run_pathspec)


@dataclass(frozen=True)
class RegisteredModel:
    """A model name with its description, tags, newest version number and aliases."""

    name: str
    created_at: datetime
    user: str
    description: str
    tags: dict[str, str]
    latest_version: int | None
    aliases: dict[str, int]


@dataclass(frozen=True)
class AliasEvent:
    """One move of an alias: who moved it when, from which version (None: created) to which
    (None: deleted)."""

    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    user: str
    at: datetime


class LoadedModel:
    """A version ready to score: the raw model plus what it takes to call it safely."""

    def __init__(
        self,
        version: ModelVersion,
        model: Any,
        flavor: Flavor,
        *,
        feature_set: FittedFeatureSet | None = None,
        training_snapshot: TrainingSnapshot | None = None,
    ) -> None:
        self._version = version
        self._model = model
        self._flavor = flavor
        self._feature_set = feature_set
        self._training_snapshot = training_snapshot

    @property
    def name(self) -> str:
        return self._version.name

    @property
    def version(self) -> int:
        return self._version.version

    @property
    def flavor(self) -> str:
        return self._version.flavor

    @property
    def signature(self) -> Signature | None:
        return self._version.signature

    @property
    def model(self) -> Any:
        """The model object itself (an estimator, a Booster, an nn.Module, ...)."""
        return self._model

    @property
    def info(self) -> ModelVersion:
        """The version record this model was loaded from."""
        return self._version

    @property
    def feature_set(self) -> FittedFeatureSet | None:
        """The fitted feature set the version was trained with (None: registered without)."""
        return self._feature_set

    @property
    def training_snapshot(self) -> TrainingSnapshot | None:
        """The profile of the inputs the version was trained on, if it was registered with
        one (served vectors are logged, and drift is watched, only for such a version)."""
        return self._training_snapshot

    def predict(self, frame: pandas.DataFrame) -> list[Any]:
        """Predictions for the rows of `frame` as a JSON-able list, one entry per row.

        With a signature, `frame` is first coerced to it, so a wrong column or value raises
        `SignatureError` here instead of a confusing error deep inside the model library.
        What the library's own input checks refuse raises `InputRefused` (a `SignatureError`
        too): bad input, not a broken model.
        """
        if self.signature is not None:
            frame = self.signature.coerce(frame)
        try:
            output = self._flavor.predict(self._model, frame)
        except (ValueError, TypeError) as exc:
            flavor = self._flavor
            if isinstance(flavor, InspectsInputs) and flavor.refuses_input(exc):
                raise InputRefused(f"{self.name}/{self.version} refused the input: {exc}") from exc
            raise
        return to_json_list(output)

    def predict_entities(self, ids: Sequence[Any], store: OnlineStore | None = None) -> list[Any]:
        """Predictions for the entities `ids` (`[42, 7]`), one per id, in order, from their
        vectors in the online `store` (default: the configured one) encoded with the
        version's fitted feature set: what `POST .../predict` with `{"entities": [...]}`
        answers. An id the store does not hold is scored on the empty values a training
        frame gives (0 for counts, else null); a feature set version the store does not
        hold raises `NotMaterialized`, naming what to materialize."""
        return self.predict(self.entity_vectors(ids, store))

    def entity_vectors(
        self, ids: Sequence[Any], store: OnlineStore | None = None
    ) -> pandas.DataFrame:
        """The encoded vectors `predict_entities` scores (see there), one row per id."""
        if self._feature_set is None:
            raise ShipyardError(
                f"{self.name}/{self.version} was not trained on a feature set, so it cannot "
                "score entities: register it with `feature_set=feature_set.fit(frame)`, or "
                "score rows with `predict`"
            )
        if store is not None:
            return self._feature_set.online_vectors(ids, store)
        from shipyard.features.online import open_online_store

        opened = open_online_store(create=False)
        try:
            return self._feature_set.online_vectors(ids, opened)
        finally:
            opened.close()

    def __repr__(self) -> str:
        return f"<LoadedModel {self.name}/{self.version} ({self.flavor})>"


class ModelRegistry:
    """Registered models over a metadata store (rows) and an artifact store (payload blobs)."""

    def __init__(
        self, metadata: MetadataBackend, artifacts: ArtifactStore, *, user: str | None = None
    ) -> None:
        self._store = metadata.models
        self._metadata = metadata
        self._artifacts = artifacts
        self._user = user

    @classmethod
    def from_config(cls, config: Config | None = None, *, create: bool = True) -> ModelRegistry:
        """A registry over the stores the configuration names (`Config.current()` by default).

        `create=False` is for readers (the scoring server, batch scoring): where there is no
        store they get `MetadataNotFound` saying where they looked, instead of a new, empty
        store made by a command that only reads.
        """
        from shipyard.datastore import ArtifactStore, BlobStore
        from shipyard.metadata import open_metadata, open_metadata_for_writing

        config = config or Config.current()
        blobs = BlobStore(config.datastore)
        metadata = (
            open_metadata_for_writing(config.metadata, blobs)
            if create
            else open_metadata(config.metadata, create=False)
        )
        return cls(metadata, ArtifactStore(blobs), user=config.user)

    @property
    def metadata(self) -> MetadataBackend:
        """The metadata backend holding the registry's rows."""
        return self._metadata

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store whose blobs hold the model payloads."""
        return self._artifacts

    @property
    def user(self) -> str:
        """Who registrations and alias moves are recorded as."""
        return self._user or Config.current().user

    # ------------------------------------------------------------------------- register

    def register(
        self,
        name: str,
        model: Any,
        *,
        flavor: str | None = None,
        signature: Signature | None = None,
        input_example: pandas.DataFrame | None = None,
        metrics: Mapping[str, float] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        lineage: Lineage | None = None,
        feature_set: FittedFeatureSet | None = None,
    ) -> ModelVersion:
        """Store `model` as the next version of `name` (created on first use) and return it.

        The flavor is detected unless given. Without a `signature`, one is inferred from
        `input_example` by running the model on it, which also proves the model can predict
        before it is published; without either, from what the model records about its inputs
        where its library keeps that (scikit-learn's feature names, XGBoost's feature names
        and types).

        `feature_set` is the fitted feature set the model was trained with: its name, version
        and fitted encoder state are kept with the version (`feature_set_of`), so scoring
        later encodes its inputs exactly as training did.
        """
        check_name(name, "model name")
        # Checked before anything is stored, so a typo leaves no orphaned payload behind.
        checked_metrics, checked_tags = _checked_metrics(metrics), _checked_tags(tags)
        chosen = get_flavor(flavor) if flavor is not None else detect_flavor(model)
        recorded = (
            chosen.signature_of(model)
            if signature is None and isinstance(chosen, InspectsInputs) and chosen.matches(model)
            else None
        )
        if input_example is not None:
            if not chosen.matches(model):
                raise FlavorError(
                    f"the {chosen.name} flavor does not handle a {type(model).__name__}"
                )
            output = chosen.predict(model, input_example)
            if signature is None:
                allow_missing = recorded is None or recorded.allow_missing
                signature = Signature.infer(input_example, output, allow_missing=allow_missing)
        elif signature is None:
            signature = recorded
        payload = chosen.save(model, FlavorContext(flow_classes=self._flow_classes(lineage)))
        environment = current_environment(chosen.libraries, model)
        if feature_set is not None:
            reference = store_fitted(self._artifacts.blobs, feature_set)
            environment[FEATURE_SET_KEY] = reference.to_json()
        sha = self._artifacts.blobs.put_bytes(payload)
        record = self._store.create_version(
            name,
            user=self.user,
            flavor=chosen.name,
            payload_sha256=sha,
            payload_size=len(payload),
            signature=signature.to_json() if signature is not None else None,
            metrics=checked_metrics,
            description=description,
            tags=checked_tags,
            lineage=_lineage_record(lineage),
            environment=environment,
        )
        return _version(record)

    def register_from_artifact(
        self,
        name: str,
        source: str,
        *,
        flavor: str | None = None,
        signature: Signature | None = None,
        input_example: pandas.DataFrame | None = None,
        metrics: Mapping[str, float] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        feature_set: FittedFeatureSet | None = None,
    ) -> ModelVersion:
        """Register the artifact `source` (`Flow/run/step/task:artifact`) of a past run.

        The lineage is that task's: its run's parameters and code, the artifact's name and
        hash, so the version can be traced back exactly as if registered from inside the step.
        """
        flow_name, run_id, step_name, task_id, artifact_name = parse_artifact_source(source)
        records = self._metadata.task_artifacts(flow_name, run_id, step_name, task_id)
        if artifact_name not in records:
            task = f"{flow_name}/{run_id}/{step_name}/{task_id}"
            listing = ", ".join(sorted(records)) or "none (a task records artifacts on success)"
            raise ObjectNotFound(
                f"task '{task}' has no artifact {artifact_name!r}; its artifacts: {listing}"
            )
        ref = records[artifact_name].ref
        run = self._metadata.get_run(flow_name, run_id)
        lineage = Lineage(
            flow_name=flow_name,
            run_id=run.run_id,
            step_name=step_name,
            task_id=task_id,
            artifact_name=artifact_name,
            artifact_sha256=ref.sha256,
            parameters=dict(run.parameters),
            code_hash=run.code_hash,
        )
        model = self._artifacts.load(ref, self._flow_classes(lineage))
        return self.register(
            name,
            model,
            flavor=flavor,
            signature=signature,
            input_example=input_example,
            metrics=metrics,
            description=description,
            tags=tags,
            lineage=lineage,
            feature_set=feature_set,
        )

    # ---------------------------------------------------------------------------- read

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """The version a reference names: `ranker`, `ranker/3` or `ranker@production`."""
        parsed = ModelRef.parse(ref)
        if parsed.version is not None:
            return _version(self._store.get_version(parsed.name, parsed.version))
        if parsed.alias is not None:
            number = self._store.alias_version(parsed.name, parsed.alias)
            return _version(self._store.get_version(parsed.name, number))
        return _version(self._store.latest_version(parsed.name))

    def get_version(self, ref: str | ModelRef) -> ModelVersion:
        """Same as `resolve`."""
        return self.resolve(ref)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of `name`, oldest first."""
        return [_version(record) for record in self._store.list_versions(name)]

    def versions_of_run(self, flow_name: str, run_id: str) -> list[ModelVersion]:
        """The versions registered from one run (what `Run(...).models` lists)."""
        return [_version(r) for r in self._store.versions_of_run(flow_name, run_id)]

    def get_model(self, name: str) -> RegisteredModel:
        """One registered model with its aliases."""
        return _model(self._store.get_model(name))

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, alphabetically."""
        return [_model(record) for record in self._store.list_models()]

    # ---------------------------------------------------------------------------- aliases

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point `alias` at `version` (atomically, recording the move) and return that version.

        An alias already at `version` is left as it is: no move is recorded.
        """
        check_name(alias, "alias")
        self._store.set_alias(name, alias, _version_number(version), self.user)
        return self.resolve(ModelRef(name, version=version))

    def delete_alias(self, name: str, alias: str) -> int | None:
        """Remove `alias`; the removal stays in its history (and can be rolled back).

        Returns the version it pointed at, or None when the alias was not set (then nothing
        changes and nothing is recorded).
        """
        return self._store.delete_alias(name, alias, self.user)

    def alias_history(self, name: str, alias: str) -> list[AliasEvent]:
        """Every move of `alias`, oldest first."""
        return [_event(record) for record in self._store.alias_history(name, alias)]

    def rollback(self, name: str, alias: str) -> ModelVersion:
        """Move `alias` back to the version it pointed at before its last move.

        Raises `ShipyardError` when the last move created the alias (there is nothing to go
        back to) and `ObjectNotFound` when the alias never existed.
        """
        version = self._store.rollback_alias(name, alias, self.user)
        return self.resolve(ModelRef(name, version=version))

    # ------------------------------------------------------------------ descriptions, tags

    def set_description(self, ref: str | ModelRef, description: str) -> None:
        """Describe a model (`ranker`) or one version (`ranker/3`, `ranker@production`)."""
        parsed = ModelRef.parse(ref)
        if parsed.version is None and parsed.alias is None:
            self._store.set_model_description(parsed.name, description)
        else:
            version = self.resolve(parsed).version
            self._store.set_version_description(parsed.name, version, description)

    def set_tags(self, ref: str | ModelRef, tags: Mapping[str, str]) -> None:
        """Replace the tags of a model (`ranker`) or of one version (`ranker/3`)."""
        parsed = ModelRef.parse(ref)
        checked = _checked_tags(tags)
        if parsed.version is None and parsed.alias is None:
            self._store.set_model_tags(parsed.name, checked)
        else:
            version = self.resolve(parsed).version
            self._store.set_version_tags(parsed.name, version, checked)

    def feature_set_of(self, ref: str | ModelRef | ModelVersion) -> FittedFeatureSet | None:
        """The fitted feature set the version `ref` names was trained with, read from its blob
        (verified against its hash); None for a version registered without one."""
        version = ref if isinstance(ref, ModelVersion) else self.resolve(ref)
        if version.feature_set is None:
            return None
        return load_fitted(self._artifacts.blobs, version.feature_set, version.ref)

    def training_snapshot_of(self, ref: str | ModelRef | ModelVersion) -> TrainingSnapshot:
        """The profile of the encoded frame the version `ref` names was trained on (what
        `shipyard features drift` compares served vectors with); `ShipyardError` for a
        version registered without one."""
        version = ref if isinstance(ref, ModelVersion) else self.resolve(ref)
        if version.feature_set is None:
            raise ShipyardError(
                f"{version.ref} was registered without a feature set, so it has no training "
                "snapshot; register it with `feature_set=feature_set.fit(frame)`"
            )
        return load_snapshot(self._artifacts.blobs, version.feature_set, version.ref)

    # ---------------------------------------------------------------------------- load

    def load(self, ref: str | ModelRef, device: str | None = None) -> LoadedModel:
        """The model a reference names, ready to `predict`; see `load_version`."""
        return self.load_version(self.resolve(ref), device)

    def load_version(self, version: ModelVersion, device: str | None = None) -> LoadedModel:
        """A version's model, read from its blob (verified against its hash) and rebuilt.

        It is loaded onto the CPU, whatever device it was trained on, unless `device` names
        another (`"cuda"`, `"cuda:1"`): the pytorch flavor moves the model there, the CPU-only
        flavors refuse, and a device this process cannot see raises `DeviceError`. A class
        defined in the flow file that registered the version is rebuilt from that run's
        code snapshot. A version trained with a feature set comes with its fitted state and
        training snapshot.
        """
        flavor = get_flavor(version.flavor)
        payload = bytes(self._artifacts.blobs.get(version.payload_sha256))
        check_environment(version.ref, version.environment)
        context = FlavorContext(flow_classes=self._flow_classes(version.lineage), device=device)
        try:
            model = flavor.load(payload, context)
        except (ImportError, ModuleNotFoundError) as exc:
            raise FlavorError(
                f"cannot load {version.ref} ({version.flavor} flavor): {exc}. Install the "
                "library the flavor needs where the model is loaded."
            ) from exc
        fitted = snapshot = None
        if version.feature_set is not None:
            blobs = self._artifacts.blobs
            fitted = load_fitted(blobs, version.feature_set, version.ref)
            if version.feature_set.snapshot is not None:
                snapshot = load_snapshot(blobs, version.feature_set, version.ref)
        return LoadedModel(version, model, flavor, feature_set=fitted, training_snapshot=snapshot)

    def _flow_classes(self, lineage: Lineage | None) -> FlowClasses | None:
        """The classes of the flow file of the run `lineage` names, if it kept a snapshot."""
        if lineage is None or lineage.code_hash is None:
            return None
        from shipyard.datastore import FlowClasses

        code_hash = lineage.code_hash
        return FlowClasses(self._artifacts.blobs, lineage.run_pathspec, lambda: code_hash)


# ------------------------------------------------------------------------------- helpers


def parse_artifact_source(source: str) -> tuple[str, str, str, str, str]:
    """`Flow/run/step/task:artifact` (or `.../task/artifact`) as its five parts."""
    task, sep, artifact = source.strip().rpartition(":")
    if not sep:
        task, sep, artifact = source.strip().rpartition("/")
    parts = task.split("/")
    if len(parts) != 4 or not all(parts) or not artifact:
        raise ValueError(
            f"{source!r} does not name an artifact; use FlowName/run_id/step/task_id:artifact, "
            "e.g. 'TrainFlow/12/train/3:model'"
        )
    return parts[0], parts[1], parts[2], parts[3], artifact


def to_json_list(predictions: Any) -> list[Any]:
    """Predictions (array, Series, tensor, list) as plain Python values, one entry per row."""
    if hasattr(predictions, "tolist"):
        values = predictions.tolist()
    elif hasattr(predictions, "to_list"):
        values = predictions.to_list()
    else:
        values = list(predictions)
    return values if isinstance(values, list) else [values]


def _checked_metrics(metrics: Mapping[str, float] | None) -> dict[str, float]:
    checked: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ShipyardError(f"metric {key!r} must be a number, not {value!r}") from None
        checked[str(key)] = float(value)
    return checked


def _checked_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise TypeError(
            f"tags are a mapping of names to values, e.g. {{'team': 'ml'}}, not {tags!r}"
        )
    return {str(key): str(value) for key, value in tags.items()}


def _version_number(version: int) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        try:
            return int(str(version))
        except ValueError:
            raise ValueError(f"a version is a number such as 3, not {version!r}") from None
    return version


def _lineage_record(lineage: Lineage | None) -> LineageRecord | None:
    if lineage is None:
        return None
    return LineageRecord(
        flow_name=lineage.flow_name,
        run_id=str(lineage.run_id),
        step_name=lineage.step_name,
        task_id=str(lineage.task_id),
        artifact_name=lineage.artifact_name,
        artifact_sha256=lineage.artifact_sha256,
        parameters=dict(lineage.parameters),
        code_hash=lineage.code_hash,
    )


def _version(record: ModelVersionRecord) -> ModelVersion:
    lineage = None
    if record.lineage is not None:
        source = record.lineage
        lineage = Lineage(
            flow_name=source.flow_name,
            run_id=source.run_id,
            step_name=source.step_name,
            task_id=source.task_id,
            artifact_name=source.artifact_name,
            artifact_sha256=source.artifact_sha256,
            parameters=dict(source.parameters),
            code_hash=source.code_hash,
        )
    environment = dict(record.environment or {})
    feature_set = FeatureSetRef.from_environment(environment)
    environment.pop(FEATURE_SET_KEY, None)
    return ModelVersion(
        name=record.model_name,
        version=record.version,
        flavor=record.flavor,
        signature=Signature.from_json(record.signature) if record.signature else None,
        metrics=dict(record.metrics),
        lineage=lineage,
        created_at=record.created_at,
        user=record.user,
        description=record.description,
        tags=dict(record.tags),
        payload_sha256=record.payload_sha256,
        payload_size=record.payload_size,
        environment=environment,
        feature_set=feature_set,
    )


def _model(record: ModelRecord) -> RegisteredModel:
    return RegisteredModel(
        name=record.name,
        created_at=record.created_at,
        user=record.user,
        description=record.description,
        tags=dict(record.tags),
        latest_version=record.latest_version,
        aliases=dict(record.aliases),
    )


def _event(record: AliasEventRecord) -> AliasEvent:
    return AliasEvent(
        name=record.model_name,
        alias=record.alias,
        from_version=record.from_version,
        to_version=record.to_version,
        user=record.user,
        at=record.at,
    )
