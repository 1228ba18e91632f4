"""The Ray engine: embedding and labelling as Ray Data batch inference on a cluster.

Each chunk of work becomes a Ray Dataset (``ray.data.from_items``) mapped with
``map_batches`` over a pool of actors; an actor loads its model once and keeps it for
every batch of that chunk. Rows carry their position, so the results are put back in
input order whatever node computed them. Only the work travels: the driver reads the
input, looks texts up in its embedding cache, sends the missing ones, writes the returned
vectors to the same cache shards and the same output files as the local engine.

Start a local Ray instance (the default when none is running and ``RAY_ADDRESS`` is not
set), or point at a running cluster::

    RAY_ADDRESS=ray://head-node:10001 safetymix embed pool.jsonl --out pool.npy --engine ray
    safetymix label pool.jsonl --out labelled.jsonl --engine ray --ray-address ray://head-node:10001

The cluster's Python environment needs safetymix (``pip install "safetymix[ray]"``), and
every model the labellers name must be loadable on the workers (a Hub name or a path that
exists there).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any, ClassVar

import numpy as np

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder
from safetymix.engine.base import Engine
from safetymix.errors import ConfigError, MissingDependencyError
from safetymix.label.pool import LABEL_FIELDS, ORIGIN_KEY, PROBA_KEY, count_origins, needs_labels
from safetymix.label.registry import LabellerSpec
from safetymix.label.stream import ChunkLabeller
from safetymix.schema import Example

logger = logging.getLogger(__name__)


def _label_extra(ex: Example) -> dict[str, Any]:
    """The ``extra`` keys that travel with the labels: probabilities and label origins."""
    return {k: ex.extra[k] for k in (PROBA_KEY, ORIGIN_KEY) if k in ex.extra}


def _worker_record(ex: Example) -> dict[str, Any]:
    """What a label worker needs of one example: its canonical fields and the label origins
    and probabilities an earlier run recorded (the rest of ``extra`` stays on the driver)."""
    record = ex.to_dict(with_extra=False)
    if kept := _label_extra(ex):
        record["extra"] = kept
    return record


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is a separate extra
    except ImportError as exc:
        raise MissingDependencyError(
            "the ray engine needs Ray Data: pip install 'safetymix[ray]' (or 'ray[data]')"
        ) from exc
    return ray


class EncodeActor:
    """Ray Data actor: holds one sentence-transformers model, encodes batches of ``text``.

    Parameters
    ----------
    model : str
        sentence-transformers model name or path (resolved on the worker).
    batch_size : int
        Texts per forward pass.
    device : str, optional
        torch device; default lets sentence-transformers choose.
    """

    def __init__(self, model: str, batch_size: int, device: str | None = None) -> None:
        self.encoder = Encoder(model, batch_size=batch_size, cache=False, device=device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vecs = self.encoder.encode([str(t) for t in batch["text"]])
        return {"idx": batch["idx"], "vector": vecs}


class LabelActor:
    """Ray Data actor: holds the labellers, labels batches of canonical JSON records.

    Parameters
    ----------
    behaviour, category : LabellerSpec or None
        Built once per actor, so each model loads once per worker.
    overwrite : bool
        As in :func:`~safetymix.label.label_pool`.
    """

    def __init__(
        self, behaviour: LabellerSpec | None, category: LabellerSpec | None, overwrite: bool
    ) -> None:
        self.behaviour = behaviour.build() if behaviour is not None else None
        self.category = category.build() if category is not None else None
        self.overwrite = overwrite

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from safetymix.label.pool import label_pool

        examples = [Example(**json.loads(str(r))) for r in batch["record"]]
        labelled, _ = label_pool(
            examples,
            behaviour_labeller=self.behaviour,
            category_labeller=self.category,
            overwrite=self.overwrite,
        )
        labels = [json.dumps({f: getattr(e, f) for f in LABEL_FIELDS} | _label_extra(e)) for e in labelled]
        return {"idx": batch["idx"], "labels": np.array(labels, dtype=object)}


class RayEngine(Engine):
    """Run embedding and labelling on a Ray cluster (or a local Ray instance).

    Parameters
    ----------
    address : str, optional
        Cluster to connect to (``"ray://host:10001"``, ``"auto"``). Default: Ray's own
        rule, i.e. ``RAY_ADDRESS`` if set, else a running local instance, else a new one.
        When Ray is already initialised in this process, that session is used as is.
    num_actors : int, optional
        Actors per stage, each holding one model. Default: as many as the cluster's
        CPUs (or GPUs, with ``num_gpus_per_actor``) allow.
    num_cpus_per_actor, num_gpus_per_actor : float
        Resources each actor reserves (defaults 1 CPU, 0 GPUs). A GPU actor runs its
        model on ``cuda``.
    rows_per_batch : int
        Rows per ``map_batches`` call (default 256).
    chunk_size : int
        Records per Ray Dataset, which is the unit of cache writes and of resumption
        (default 32768: each chunk starts its actors and loads their models anew, so it
        should be large next to that start-up cost).

    Examples
    --------
    >>> engine = RayEngine(address="ray://head-node:10001", num_gpus_per_actor=1)  # doctest: +SKIP
    >>> report = embed_file("pool.jsonl", "pool.npy", encoder=engine.encoder())  # doctest: +SKIP
    """

    name: ClassVar[str] = "ray"
    default_chunk_size: ClassVar[int] = 32768

    def __init__(
        self,
        address: str | None = None,
        *,
        num_actors: int | None = None,
        num_cpus_per_actor: float = 1.0,
        num_gpus_per_actor: float = 0.0,
        rows_per_batch: int = 256,
        chunk_size: int | None = None,
    ) -> None:
        self.address = address
        self.num_actors = num_actors
        self.num_cpus_per_actor = num_cpus_per_actor
        self.num_gpus_per_actor = num_gpus_per_actor
        self.rows_per_batch = rows_per_batch
        self.chunk_size = chunk_size
        self._started = False

    # -- Ray session ----------------------------------------------------------------------------

    def _ray(self) -> Any:
        ray = _import_ray()
        if self.num_actors is not None and self.num_actors < 1:
            raise ConfigError(f"num_actors must be >= 1, got {self.num_actors}")
        if self.rows_per_batch < 1:
            raise ConfigError(f"rows_per_batch must be >= 1, got {self.rows_per_batch}")
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            self._started = True
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        return ray

    def _actors(self, ray: Any) -> int:
        if self.num_actors is not None:
            return self.num_actors
        resources = ray.cluster_resources()
        if self.num_gpus_per_actor > 0:
            return max(1, int(resources.get("GPU", 0) // self.num_gpus_per_actor))
        return max(1, int(resources.get("CPU", 1) // max(self.num_cpus_per_actor, 1e-9)))

    def _map(self, items: list[dict[str, Any]], actor: type, kwargs: dict[str, Any]) -> Any:
        ray = self._ray()
        n_actors = self._actors(ray)
        blocks = max(1, min(len(items) // self.rows_per_batch + 1, 4 * n_actors))
        ds = ray.data.from_items(items, override_num_blocks=blocks)
        return ds.map_batches(
            actor,
            fn_constructor_kwargs=kwargs,
            batch_size=self.rows_per_batch,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=n_actors),
            num_cpus=self.num_cpus_per_actor,
            num_gpus=self.num_gpus_per_actor or None,
        )

    def close(self) -> None:
        """Shut down the Ray instance if this engine started it."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    # -- embedding ------------------------------------------------------------------------------

    def encode_backend(self, model: str = DEFAULT_MODEL, batch_size: int = 64):
        """``backend(texts) -> (n, d) float32`` encoding on the cluster, for :class:`Encoder`."""
        device = "cuda" if self.num_gpus_per_actor > 0 else None

        def backend(texts: list[str]) -> np.ndarray:
            items = [{"idx": i, "text": t} for i, t in enumerate(texts)]
            ds = self._map(items, EncodeActor, {"model": model, "batch_size": batch_size, "device": device})
            out: np.ndarray | None = None
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                vecs = np.asarray(batch["vector"], dtype=np.float32)
                if out is None:
                    out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
                out[batch["idx"]] = vecs
            assert out is not None
            return out

        return backend

    # -- labelling ------------------------------------------------------------------------------

    def chunk_labeller(
        self,
        behaviour: LabellerSpec | None,
        category: LabellerSpec | None,
        *,
        overwrite: bool = False,
    ) -> ChunkLabeller:
        for spec in (behaviour, category):
            if spec is not None and not isinstance(spec, LabellerSpec):
                raise ConfigError(
                    f"the ray engine builds labellers on its workers: pass a LabellerSpec, got {spec!r}"
                )
        kwargs = {"behaviour": behaviour, "category": category, "overwrite": overwrite}

        def label_chunk(examples: list[Example]) -> tuple[list[Example], dict[str, Any]]:
            need_b, need_c = needs_labels(
                examples, behaviour=behaviour is not None, category=category is not None, overwrite=overwrite
            )
            report: dict[str, Any] = {"behaviour_labelled": len(need_b), "categories_labelled": len(need_c)}
            if need_b and behaviour is not None:
                report["behaviour_labeller"] = behaviour.label_name
            if need_c and category is not None:
                report["category_labeller"] = category.label_name
            if not need_b and not need_c:  # nothing to send out: complete and record as local does
                from safetymix.label.pool import label_pool

                out, local = label_pool(examples, behaviour_labeller=None, category_labeller=None)
                report["label_origin"] = local["label_origin"]
                return out, report
            items = [{"idx": i, "record": json.dumps(_worker_record(ex))} for i, ex in enumerate(examples)]
            labels: list[dict[str, Any] | None] = [None] * len(examples)
            for batch in self._map(items, LabelActor, kwargs).iter_batches(
                batch_size=None, batch_format="numpy"
            ):
                for i, text in zip(batch["idx"], batch["labels"], strict=True):
                    labels[int(i)] = json.loads(str(text))
            out = []
            for ex, lab in zip(examples, labels, strict=True):
                assert lab is not None, "a row came back without labels"
                worker_extra = {k: lab.pop(k) for k in (PROBA_KEY, ORIGIN_KEY) if k in lab}
                extra = {k: v for k, v in ex.extra.items() if k not in worker_extra} | worker_extra
                out.append(dataclasses.replace(ex, **lab, extra=extra))
            report["label_origin"] = count_origins([ex.extra[ORIGIN_KEY] for ex in out])
            return out, report

        return label_chunk
