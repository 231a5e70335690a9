"""Training: one config in, one model package out, with a checkpoint after every epoch.

Kill it at any moment and `--resume` continues from the last finished epoch: model, optimizer, scheduler,
AMP scaler, early-stopping state and history all come back, and each epoch's shuffling and augmentation are
seeded from (seed, epoch), so a resumed run sees the same batches the uninterrupted one would have.
The checkpoint remembers the class list, architecture and training-data hash; resuming with different data
is refused rather than silently mixed.
"""

from __future__ import annotations

import io
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from wildeye.atomic import write_bytes_atomic
from wildeye.errors import ConfigError, WildeyeError
from wildeye.train import data as D
from wildeye.train.config import TrainConfig, normalize_label
from wildeye.train.taxonomy import label_taxonomy

log = logging.getLogger(__name__)

CHECKPOINT = "last.pt"
BEST_WEIGHTS = "best.safetensors"


@dataclass
class Prepared:
    items: list[D.Item]
    labels: list[str]
    skipped: list[tuple[str, str]]
    data_hash: str
    summary: dict[str, Any]


def prepare_data(config: TrainConfig) -> Prepared:
    """Sources -> readable items -> classes -> leak-free splits. Fails early, as one line, on empty data."""
    collected = D.collect(config.data)
    skipped = list(collected.skipped)
    items = D.check_readable(collected.items, skipped)
    labels = D.class_list(items, config.classes)
    items = D.assign_classes(items, config.classes, labels, skipped)
    if not items:
        raise ConfigError("no training data: every source was empty or every label was dropped",
                          "check data.sources paths and classes.names / map / drop")
    if len(labels) < 2:
        raise ConfigError(f"only one class in the data ({labels[0]!r})",
                          "a classifier needs two or more: set classes.names, or classes.other to collect the rest")
    items = D.split_items(items, config.split)
    units = {"sequence": ("path", "sequence"), "location": ("path", "sequence", "location"),
             "deployment": ("path", "sequence", "deployment")}[config.split.by]
    leaked = {unit: keys for unit, keys in D.leaks(items).items() if unit in units}
    summary = D.summarize(items, labels)
    summary["skipped"] = len(skipped)
    summary["sources"] = collected.counts
    summary["split_by"] = config.split.by
    if leaked:  # only when sources disagree about one file's camera or burst: say so, loudly
        summary["leaks"] = {unit: keys[:20] for unit, keys in leaked.items()}
        log.warning("items of one %s in two splits: %s", ", ".join(leaked), leaked)
    empty = [label for label, counts in summary["per_class"].items() if counts["train"] == 0]
    if empty:
        summary["classes_without_training_data"] = empty
        log.warning("classes with no training images: %s", ", ".join(empty))
    return Prepared(items, labels, skipped, D.data_hash(items, labels), summary)


# --- model --------------------------------------------------------------------------------------------------


def build_model(config: TrainConfig, num_classes: int) -> tuple[Any, dict[str, Any]]:
    """The timm model and where its starting weights came from."""
    import timm

    m = config.model
    kwargs = dict(m.timm_kwargs)
    if m.drop_rate:
        kwargs["drop_rate"] = m.drop_rate
    if m.pretrained:
        try:
            model = timm.create_model(m.architecture, pretrained=True, num_classes=num_classes, **kwargs)
        except Exception as exc:  # noqa: BLE001 - offline: OSError / LocalEntryNotFoundError / HTTP errors
            detail = " ".join(str(exc).split())[:160]
            raise ConfigError(f"model.pretrained: could not get timm's pretrained weights for {m.architecture!r} "
                              f"(no internet or not cached?): {detail}",
                              "set model.pretrained: false, or set model.weights to a local .safetensors/.pth "
                              "file or a wildeye package") from None
        return model, {"init": "timm-pretrained"}
    try:
        model = timm.create_model(m.architecture, pretrained=False, num_classes=num_classes, **kwargs)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ConfigError(f"model: timm cannot build {m.architecture!r}: {exc}",
                          "check model.architecture and model.timm_kwargs") from None
    if not m.weights:
        return model, {"init": "random"}
    state, origin, preprocessing = _read_weights(m.weights)
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not fitting:
        raise ConfigError(f"model.weights: no tensor in {m.weights} fits {m.architecture}",
                          "the weights come from another architecture; set model.architecture to theirs")
    model.load_state_dict(fitting, strict=False)
    info = {"init": origin, "weights": m.weights, "tensors_loaded": len(fitting),
            "tensors_new": len(own) - len(fitting)}
    if preprocessing:
        info["preprocessing"] = preprocessing
    log.info("initial weights: %d of %d tensors from %s", len(fitting), len(own), m.weights)
    return model, info


def _read_weights(spec: str) -> tuple[dict[str, Any], str, dict[str, Any] | None]:
    """(state dict, origin, package preprocessing) from a package folder, registry name or weights file."""
    from wildeye.models import package, speciesnet

    path = Path(spec).expanduser()
    if not path.exists() and "/" not in spec:
        from wildeye.models.hub import resolve_model

        try:
            path = resolve_model(spec, "classifier", download=False).path
        except WildeyeError as exc:
            raise ConfigError(f"model.weights: {spec!r} is neither a file nor a cached model ({exc.problem})",
                              "give a path to a .safetensors/.pth file or a wildeye package folder") from None
    if not path.exists():
        raise ConfigError(f"model.weights: {path} not found", "give a .safetensors/.pth file or a package folder")
    if package.is_package(path):
        loaded = package.load_package(path)
        info = loaded.info
        prep = {"input_size": info.input_size, "mean": list(info.mean), "std": list(info.std),
                "interpolation": info.interpolation}
        return loaded.model.state_dict(), "wildeye-package", prep
    if speciesnet.is_speciesnet_path(path):
        raise ConfigError(f"model.weights: {path} is a SpeciesNet model, whose converted graph has no timm "
                          "state dict to start from", "start from a wildeye package, a timm .safetensors/.pth "
                          "file, or model.pretrained: true")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path)), "safetensors", None
    import torch

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickles with code, corrupt files
        raise ConfigError(f"model.weights: {path} is not a plain state dict torch can load safely "
                          f"({type(exc).__name__})", "save it with torch.save(model.state_dict(), path)") from None
    for key in ("state_dict", "model", "model_state", "state_dict_ema"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise ConfigError(f"model.weights: {path} holds no state dict", "save model.state_dict()")
    return {k.removeprefix("module."): v for k, v in obj.items() if hasattr(v, "shape")}, "state-dict", None


def preprocessing(model: Any, config: TrainConfig, init: dict[str, Any]) -> dict[str, Any]:
    """input size, mean, std, interpolation: config, else the initial package's, else the timm model's own."""
    from wildeye.models.package import IMAGENET_MEAN, IMAGENET_STD

    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    prep = dict(init.get("preprocessing") or {})
    size = cfg.get("input_size") or (3, 224, 224)
    out = {
        "input_size": config.model.input_size or prep.get("input_size") or int(size[-1]),
        "mean": tuple(prep.get("mean") or cfg.get("mean") or IMAGENET_MEAN),
        "std": tuple(prep.get("std") or cfg.get("std") or IMAGENET_STD),
        "interpolation": prep.get("interpolation") or cfg.get("interpolation") or "bilinear",
    }
    if out["interpolation"] not in ("bilinear", "bicubic", "nearest"):
        out["interpolation"] = "bilinear"
    return out


# --- one epoch ------------------------------------------------------------------------------------------------


def autocast_for(device: Any, amp: str):
    """(autocast context factory, GradScaler or None): bf16 where the GPU has it, else fp16 with a scaler."""
    import contextlib

    import torch

    if device.type != "cuda" or amp == "off":
        return contextlib.nullcontext, None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return (lambda: torch.autocast("cuda", dtype=dtype)), scaler


def train_one_epoch(model, loader, optimizer, loss_fn, device, autocast, scaler=None,
                    on_batch: Callable[[int, int], None] | None = None) -> dict[str, float]:
    import torch

    model.train()
    total_loss, seen, batches = 0.0, 0, len(loader)
    start = time.perf_counter()
    for step, (x, y) in enumerate(loader, 1):
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        if (y >= 0).any():
            with autocast():
                loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            n = int((y >= 0).sum())
            total_loss += float(loss.detach()) * n
            seen += n
        if on_batch:
            on_batch(step, batches)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"loss": total_loss / seen if seen else float("nan"), "images": seen, "seconds": seconds,
            "images_per_s": seen / seconds if seconds > 0 else 0.0}


def predict(model, loader, device, autocast) -> tuple[np.ndarray, np.ndarray]:
    """(labels, softmax scores) for every readable item of a loader, in order."""
    import torch

    model.eval()
    ys, ps = [], []
    with torch.inference_mode():
        for x, y in loader:
            with autocast():
                logits = model(x.to(device, non_blocking=True))
            ps.append(torch.softmax(logits.float(), dim=-1).cpu())
            ys.append(y)
    if not ys:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0))
    y = torch.cat(ys).numpy()
    p = torch.cat(ps).numpy()
    keep = y >= 0
    return y[keep], p[keep]


# --- the run --------------------------------------------------------------------------------------------------


def train(config: TrainConfig, *, resume: bool = False, on_batch: Callable[[int, int], None] | None = None,
          on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train, calibrate, evaluate and write the package to `config.output.dir`; returns the summary dict.

    `on_epoch(record)` runs after each epoch's checkpoint is on disk (progress display; tests interrupt here).
    """
    import torch
    from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

    from wildeye.inference.device import select_device
    from wildeye.train import calibrate as C
    from wildeye.train import metrics as M
    from wildeye.train.card import write_outputs

    out_dir = Path(config.output.dir)
    ckpt_dir = Path(config.output.checkpoints) if config.output.checkpoints else out_dir / "checkpoints"
    ckpt_path = ckpt_dir / CHECKPOINT
    from wildeye.models.package import is_package

    if resume and not ckpt_path.is_file():
        raise ConfigError(f"--resume: no checkpoint at {ckpt_path}", "run without --resume to start training")
    if not resume and ckpt_path.is_file():
        raise ConfigError(f"{ckpt_path} holds an unfinished training", "pass --resume to continue it, or delete "
                                                                     f"{ckpt_dir} to start over")
    if not resume and is_package(out_dir) and not config.output.overwrite:
        raise ConfigError(f"{out_dir} already holds a model package",
                          "set output.dir to a new folder, or output.overwrite: true")
    try:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {ckpt_dir}: {exc.strerror or exc}", "set output.dir to a writable folder")

    started = time.perf_counter()
    prepared = prepare_data(config)
    labels = prepared.labels
    device = select_device(config.train.device)
    t = config.train
    torch.manual_seed(t.seed)
    model, init = build_model(config, len(labels))
    taxonomy = label_taxonomy(labels, config.classes)  # before training: a missing taxon is said at once
    prep = preprocessing(model, config, init)
    model.to(device)

    def dataset(split: str, augment: bool) -> D.CropDataset:
        items = [item for item in prepared.items if item.split == split]
        return D.CropDataset(items, prep["input_size"], prep["mean"], prep["std"], prep["interpolation"],
                             config.data.padding, augment=augment)

    train_ds = dataset("train", t.augment == "light")
    val_ds, test_ds = dataset("val", False), dataset("test", False)
    if len(train_ds) == 0:
        raise ConfigError("the training split is empty", "add data, or lower split.val / split.test")
    train_y = np.array([i.class_index for i in train_ds.items])
    generator = torch.Generator()
    sampler = None
    if t.balance == "sampler":
        weights = torch.as_tensor(compute_sample_weight("balanced", train_y), dtype=torch.double)
        sampler = torch.utils.data.WeightedRandomSampler(weights, len(train_ds), replacement=True,
                                                         generator=generator)
    loader_kw = dict(num_workers=config.data.workers, pin_memory=device.type == "cuda",
                     persistent_workers=False)
    train_loader = torch.utils.data.DataLoader(train_ds, batch_size=t.batch_size, shuffle=sampler is None,
                                               sampler=sampler, generator=generator, **loader_kw)

    def eval_loader(ds):
        return torch.utils.data.DataLoader(ds, batch_size=t.batch_size * 2, shuffle=False, **loader_kw)

    class_weights = None
    if t.balance == "loss":  # classes with no training data weigh 0 (they never are a target)
        present = np.unique(train_y)
        w = np.zeros(len(labels))
        w[present] = compute_class_weight("balanced", classes=present, y=train_y)
        class_weights = torch.as_tensor(w, dtype=torch.float32, device=device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights, ignore_index=-1, label_smoothing=t.label_smoothing)
    optimizer = _optimizer(model, config)
    scheduler = lr_scheduler(optimizer, config)
    autocast, scaler = autocast_for(device, t.amp)

    state = {"epoch": 0, "best_score": None, "best_epoch": None, "bad_epochs": 0, "history": [],
             "stopped_early": False}
    if resume:
        state = _load_checkpoint(ckpt_path, model, optimizer, scheduler, scaler, config, labels, prepared.data_hash)
        log.info("resuming after epoch %d", state["epoch"])
    has_val = len(val_ds) > 0
    higher_better = t.monitor != "loss"

    for epoch in range(state["epoch"], t.epochs):
        if state["stopped_early"]:
            break
        torch.manual_seed(t.seed * 1000 + epoch)  # this epoch's augmentation, whatever came before
        generator.manual_seed(t.seed * 1000 + epoch)  # this epoch's order
        record: dict[str, Any] = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"]}
        stats = train_one_epoch(model, train_loader, optimizer, loss_fn, device, autocast, scaler, on_batch)
        record.update(train_loss=round(stats["loss"], 5), images_per_s=round(stats["images_per_s"], 1))
        scheduler.step(epoch + 1)  # the learning rate of the next epoch
        if has_val:
            y, p = predict(model, eval_loader(val_ds), device, autocast)
            with torch.no_grad():
                val_loss = float(torch.nn.functional.cross_entropy(
                    torch.log(torch.as_tensor(p).clamp_min(1e-12)), torch.as_tensor(y), reduction="mean")) \
                    if len(y) else float("nan")
            m = M.evaluate_scores(y, p, labels)
            record.update(val_loss=round(val_loss, 5), val_accuracy=m["accuracy"], val_macro_f1=m["macro_f1"])
            score = {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"], "loss": val_loss}[t.monitor]
        else:
            score = -stats["loss"] if higher_better else stats["loss"]
        best = state["best_score"]
        improved = best is None or (score > best if higher_better else score < best)
        if improved:
            state.update(best_score=score, best_epoch=epoch + 1, bad_epochs=0)
            _save_weights(model, ckpt_dir / BEST_WEIGHTS)
        else:
            state["bad_epochs"] += 1
        record["best"] = improved
        state["history"].append(record)
        state["epoch"] = epoch + 1
        if has_val and t.early_stopping and state["bad_epochs"] >= t.early_stopping:
            state["stopped_early"] = True
        _save_checkpoint(ckpt_path, model, optimizer, scheduler, scaler, state, config, labels, prepared.data_hash)
        log.info("epoch %d/%d %s", epoch + 1, t.epochs, record)
        if on_epoch:
            on_epoch(record)

    # --- the best epoch's weights, calibrated and evaluated -------------------------------------------------
    from safetensors.torch import load_model

    load_model(model, str(ckpt_dir / BEST_WEIGHTS), strict=True, device=str(device))
    fallback = _fallback_label(config, labels)
    targets = C.targets_for(config.calibration.target_precision, labels, fallback)
    evaluation: dict[str, Any] = {}
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, ds in (("val", val_ds), ("test", test_ds)):
        if len(ds):
            scores[split] = predict(model, eval_loader(ds), device, autocast)
            evaluation[split] = M.evaluate_scores(*scores[split], labels)
    calibration: dict[str, Any] = {}
    thresholds: dict[str, float] = {}
    if targets and "val" in scores:
        calibration = C.calibrate(*scores["val"], labels, targets)
        thresholds = {label: r["threshold"] for label, r in calibration.items()}
        for split, (y, p) in scores.items():
            pred = C.apply_thresholds(p, labels, thresholds, fallback)
            evaluation[split]["with_thresholds"] = {
                label: {k: v for k, v in m.items() if k in ("precision", "recall", "f1", "predicted")}
                for label, m in M.per_class(y, pred, labels).items() if label in thresholds}
    model.to("cpu").eval()
    summary = {
        "package": str(out_dir),
        "labels": labels,
        "architecture": config.model.architecture,
        "init": init,
        "device": str(device),
        "amp": scaler is not None or (device.type == "cuda" and t.amp != "off"),
        "epochs_run": state["epoch"],
        "best_epoch": state["best_epoch"],
        "stopped_early": state["stopped_early"],
        "history": state["history"],
        "data": prepared.summary,
        "data_hash": prepared.data_hash,
        "evaluation": evaluation,
        "calibration": calibration,
        "thresholds": thresholds,
        "fallback": fallback,
        "taxonomy": taxonomy.taxonomy,
        "taxonomy_missing": taxonomy.missing,
        "preprocessing": {**prep, "crop_padding": config.data.padding},
        "train_images_per_s": _mean([r["images_per_s"] for r in state["history"]]),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    write_outputs(out_dir, model, config, prepared, summary, scores)
    if not config.output.keep_checkpoints:
        for name in (CHECKPOINT, BEST_WEIGHTS):
            (ckpt_dir / name).unlink(missing_ok=True)
        try:
            ckpt_dir.rmdir()
        except OSError:
            pass
    return summary


def _fallback_label(config: TrainConfig, labels: list[str]) -> str | None:
    if config.classes.other:
        key = normalize_label(config.classes.other)
        return next((label for label in labels if normalize_label(label) == key), None)
    return None


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v and math.isfinite(v)]
    return round(sum(values) / len(values), 1) if values else None


def _optimizer(model, config: TrainConfig):
    import torch

    t = config.train
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 or name.endswith(".bias") else decay).append(param)
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if t.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=t.lr, momentum=t.momentum, nesterov=t.momentum > 0)
    if t.optimizer == "adam":
        return torch.optim.Adam(groups, lr=t.lr)
    return torch.optim.AdamW(groups, lr=t.lr)


def lr_scheduler(optimizer, config: TrainConfig):
    """timm's epoch scheduler for train.scheduler: linear warm-up from lr/(warmup+1), then cosine to 1 % of lr
    over the remaining epochs, steps of gamma every step_size epochs, or constant ("none").
    Call `.step(epochs_done)` after each epoch; its state_dict goes into the checkpoint."""
    from timm.scheduler import create_scheduler_v2

    t = config.train
    kind = {"cosine": "cosine", "step": "step", "none": "step"}[t.scheduler]
    scheduler, _ = create_scheduler_v2(
        optimizer, sched=kind, num_epochs=max(1, t.epochs - t.warmup_epochs), min_lr=0.01 * t.lr,
        decay_epochs=t.step_size, decay_rate=t.gamma if t.scheduler == "step" else 1.0,
        warmup_epochs=t.warmup_epochs, warmup_lr=t.lr / (t.warmup_epochs + 1), warmup_prefix=True)
    return scheduler


def _save_weights(model, path: Path) -> None:
    """Copies of the tensors: safetensors refuses tensors that share memory, load_model accepts the copies."""
    from safetensors.torch import save

    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    write_bytes_atomic(path, save(state))


def _save_checkpoint(path: Path, model, optimizer, scheduler, scaler, state: dict, config: TrainConfig,
                     labels: list[str], data_hash: str) -> None:
    """Atomic: a kill during the save leaves the previous epoch's checkpoint intact."""
    import torch

    payload = {
        "format": "wildeye-train-checkpoint", "version": 1,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "state": state, "labels": list(labels), "architecture": config.model.architecture,
        "data_hash": data_hash,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint_file(path: Path) -> dict[str, Any]:
    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"checkpoint {path} is unreadable ({type(exc).__name__})",
                          f"delete {path.parent} and train from the start") from None


def _load_checkpoint(path: Path, model, optimizer, scheduler, scaler, config: TrainConfig, labels: list[str],
                     data_hash: str) -> dict[str, Any]:
    ckpt = load_checkpoint_file(path)
    if ckpt.get("architecture") != config.model.architecture or ckpt.get("labels") != labels:
        raise ConfigError(f"{path} was made for {ckpt.get('architecture')} with labels {ckpt.get('labels')}, "
                          "not what this config asks for", f"restore that config, or delete {path.parent} to "
                                                           "start over")
    if ckpt.get("data_hash") != data_hash:
        raise ConfigError(f"the training data changed since {path} was written",
                          f"restore the data, or delete {path.parent} to start over")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    if scaler is not None and ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    return dict(ckpt["state"])
