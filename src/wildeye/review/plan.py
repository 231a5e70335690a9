"""Review planning: which frames a reviewer should look at first, by how much each decision can still change the
results.

A frame's expected change is P(its machine label is wrong) x what a wrong label costs the results (its weight).

- P(wrong) starts as 1 - the decision's confidence (least confident first: the usual active-learning baseline,
  "uncertainty sampling", Settles 2009 §3.1) and is learnt from the reviews done so far: for each predicted label
  and confidence bin, the reviewed frames whose label a reviewer changed or tagged wrong. With few reviews the
  estimate leans on its prior: a two-level Beta-binomial posterior mean (Gelman et al., Bayesian Data Analysis,
  3rd ed., §2.4 and §5.3), the label's rate shrunk towards 1 - confidence, the bin's rate shrunk towards the
  label's, each with `prior_strength` pseudo-reviews. A label reviewers keep correcting moves up; one they always
  confirm moves down.
- The weight: a species seen in only a few sequences (one wrong label adds or removes a species at a site, and a
  whole independent event) and the project's flagship species count `rare_weight` / `flagship_weight` times.

Frames a reviewer already labelled are done and never planned. The plan is a list (`wildeye plan`) and a saved
view of the FiftyOne review dataset that shows the frames in plan order.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

PLAN_VIEW = "review-plan"


class PlanConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bins: list[float] = Field([0.5, 0.65, 0.8, 0.9, 0.95],
                              description="confidence bin edges: error rates are learnt per label and bin")
    prior_strength: float = Field(4.0, gt=0, description="pseudo-reviews behind each prior (Beta smoothing)")
    rare_sequences: int = Field(3, ge=0, description="a species seen in at most this many sequences is rare")
    rare_weight: float = Field(2.0, gt=0, description="weight of a rare species' frames")
    flagship_weight: float = Field(2.0, gt=0, description="weight of a flagship species' frames")
    flagship_species: list[str] = Field(default_factory=list,
                                        description="common names; default: the run's ensemble.flagship_species")

    @field_validator("bins")
    @classmethod
    def _sorted_in_unit_interval(cls, bins: list[float]) -> list[float]:
        if any(not 0 < b < 1 for b in bins) or bins != sorted(set(bins)):
            raise ValueError("bin edges must be increasing numbers between 0 and 1")
        return bins


@dataclass
class ErrorRate:
    """What the reviews say about one predicted label in one confidence bin."""

    label: str
    bin: str
    reviewed: int
    wrong: int


@dataclass
class PlanItem:
    rank: int
    path: str
    deployment_id: str | None
    sequence_id: str | None
    label: str  # the machine's label, as reviewers see it (common name)
    confidence: float
    p_wrong: float
    weight: float
    priority: float  # expected change: p_wrong x weight
    why: list[str] = field(default_factory=list)


@dataclass
class Plan:
    items: list[PlanItem]
    error_rates: list[ErrorRate]
    reviewed: int  # frames with a reviewer's label
    candidates: int  # frames with a machine decision and no review
    config: PlanConfig

    def as_dict(self, limit: int | None = None) -> dict:
        return {"items": [asdict(i) for i in self.items[:limit]], "error_rates": [asdict(r) for r in self.error_rates],
                "reviewed": self.reviewed, "candidates": self.candidates, "planned": len(self.items[:limit]),
                "config": self.config.model_dump()}


def plan_run(out_dir: str | Path, config: PlanConfig | None = None) -> Plan:
    """The plan for a run folder's journal (read-only): its decisions, its reviewers' labels, its run's flagship."""
    from wildeye.store.journal import Journal

    config = config or PlanConfig()
    with Journal.open(Path(out_dir), write=False) as journal:
        decisions = journal.decisions()
        humans = journal.human_labels()
        media = {m.path: m for m in journal.media_records()}
        run = journal.last_run()
    if not config.flagship_species and run is not None:
        flagship = (run.config.get("ensemble") or {}).get("flagship_species") or []
        config = config.model_copy(update={"flagship_species": [str(f) for f in flagship]})
    return plan_review(decisions, humans, media, config)


def plan_review(decisions: dict, humans: dict, media: dict, config: PlanConfig | None = None) -> Plan:
    """decisions: path -> Prediction (the journal's); humans: path -> HumanLabel; media: path -> a record with
    deployment_id and sequence_id. Returns every unreviewed decided frame, most expected change first."""
    from wildeye.labels import display_name

    cfg = config or PlanConfig()
    names: dict[str, str] = {}

    def name(label: str) -> str:
        if label not in names:
            names[label] = display_name(label).strip().lower()
        return names[label]

    def bin_of(confidence: float) -> int:
        return bisect.bisect_right(cfg.bins, confidence)

    # what the reviews say, per predicted label and per (label, bin); a review without a machine decision says nothing
    by_label: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # label -> [reviewed, wrong]
    by_bin: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for path, human in humans.items():
        machine = decisions.get(path)
        if machine is None:
            continue
        wrong = int(not human.verified or name(human.label) != name(machine.label))
        for counts in (by_label[name(machine.label)], by_bin[(name(machine.label), bin_of(machine.score))]):
            counts[0] += 1
            counts[1] += wrong
    sequences: dict[str, set] = defaultdict(set)  # label -> sequences the machine gave it
    for path, p in decisions.items():
        m = media.get(path)
        sequences[name(p.label)].add(getattr(m, "sequence_id", None) or path)
    flagship = {f.strip().lower() for f in cfg.flagship_species}
    a = cfg.prior_strength
    items = []
    for path, p in decisions.items():
        if path in humans:
            continue
        label, confidence = name(p.label), float(p.score)
        prior = min(max(1.0 - confidence, 1e-3), 1 - 1e-3)
        reviewed_l, wrong_l = by_label.get(label, (0, 0))
        reviewed_b, wrong_b = by_bin.get((label, bin_of(confidence)), (0, 0))
        label_rate = (wrong_l + a * prior) / (reviewed_l + a)
        p_wrong = (wrong_b + a * label_rate) / (reviewed_b + a)
        why = [f"confidence {confidence:.2f}"]
        if reviewed_l:
            why.append(f"reviewers changed {wrong_l} of {reviewed_l} '{label}' decisions"
                       + (f" ({wrong_b} of {reviewed_b} in {_bin_name(cfg.bins, bin_of(confidence))})"
                          if reviewed_b else ""))
        weight = 1.0
        if label not in ("blank", "human", "vehicle") and len(sequences[label]) <= cfg.rare_sequences:
            weight *= cfg.rare_weight
            why.append(f"rare: '{label}' in {len(sequences[label])} sequence{'s' if len(sequences[label]) != 1 else ''}")
        if label in flagship or "flagship" in (p.review_reasons or []):
            weight *= cfg.flagship_weight
            why.append("flagship species")
        m = media.get(path)
        items.append(PlanItem(0, path, getattr(m, "deployment_id", None), getattr(m, "sequence_id", None),
                              label, round(confidence, 4), round(p_wrong, 4), weight, round(p_wrong * weight, 4),
                              why))
    items.sort(key=lambda i: (-i.priority, i.confidence, i.path))
    for rank, item in enumerate(items, 1):
        item.rank = rank
    rates = [ErrorRate(label, _bin_name(cfg.bins, b), n, w) for (label, b), (n, w) in sorted(by_bin.items())]
    return Plan(items, rates, sum(1 for p in humans if p in decisions), len(items), cfg)


def save_plan_view(out_dir: str | Path, plan: Plan, dataset_name: str | None = None, limit: int | None = None
                   ) -> dict:
    """Save the plan as the review dataset's `review-plan` view: its frames in plan order (the dataset is synced
    first when it does not exist yet). Returns {"dataset", "view", "samples"}."""
    from wildeye.review.dataset import _source_root, default_dataset_name, sync_run
    from wildeye.review.db import import_fiftyone

    out_dir = Path(out_dir)
    name = dataset_name or default_dataset_name(out_dir)
    fo = import_fiftyone()
    if not fo.dataset_exists(name):
        sync_run(out_dir, name)
    dataset = fo.load_dataset(name)
    source = _source_root(out_dir)
    filepaths = [str(source / item.path) for item in plan.items[:limit]]
    view = dataset.select_by("filepath", filepaths, ordered=True)
    when = datetime.now().astimezone().isoformat(timespec="minutes")
    dataset.save_view(PLAN_VIEW, view, overwrite=True,
                      description=f"{len(filepaths)} frames in review-plan order ({when}): the decisions most likely "
                                  "to change the results first. Review, `wildeye review pull`, then `wildeye plan` "
                                  "again to learn from your reviews")
    return {"dataset": name, "view": PLAN_VIEW, "samples": len(view)}


def _bin_name(edges: list[float], index: int) -> str:
    low = edges[index - 1] if index > 0 else 0.0
    high = edges[index] if index < len(edges) else 1.0
    return f"confidence {low:.2f}-{high:.2f}"
