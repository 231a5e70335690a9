"""Agreement of wildeye's ensemble with SpeciesNet's own answers, case by case.

    python scripts/speciesnet_parity.py ../shared/reference/speciesnet

CASES_DIR holds `cases.jsonl` (one case a line: `detection` {category, conf}, `classifications` {classes, scores},
`country`, `admin1_region`, `geofence` on/off, and `speciesnet` {class, score, source}: what speciesnet's
`combine_predictions` answered), the model's `taxonomy_release.txt` and `geofence_release.json`.

Each case goes through the product path, `wildeye.inference.ensemble.Ensemble.decide_detection` with the default
run config (wildeye's additions have nothing to add there: no calibrated thresholds, no allow-list), and is
compared on SpeciesNet's answer (class and source verbatim, score within 1e-6) and on wildeye's final decision
(the same, with special outcomes written as plain words). Exits 1 below 100%, 2 on a bad folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

SCORE_TOLERANCE = 1e-6


def compare(cases_dir: Path, limit: int | None = None) -> dict:
    from wildeye.config import EnsembleConfig
    from wildeye.inference.ensemble import Ensemble
    from wildeye.records import Detection
    from wildeye.labels import Taxonomy, parse

    taxonomy = Taxonomy.from_file(cases_dir / "taxonomy_release.txt")
    geofence = json.loads((cases_dir / "geofence_release.json").read_text(encoding="utf-8"))
    ensembles = {on: Ensemble(EnsembleConfig(geofence=on), geofence=geofence, taxonomy=taxonomy)
                 for on in (True, False)}
    counts: Counter = Counter()
    misses: list[dict] = []
    with open(cases_dir / "cases.jsonl", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if limit is not None and number > limit:
                break
            case = json.loads(line)
            det, cls, want = case["detection"], case["classifications"], case["speciesnet"]
            category = {"human": "person"}.get(det["category"], det["category"])
            detection = Detection(category, det["conf"], (0.0, 0.0, 1.0, 1.0),
                                  list(zip(cls["classes"], cls["scores"])))
            decision = ensembles[bool(case.get("geofence", True))].decide_detection(
                detection, case.get("country"), case.get("admin1_region"))
            got = decision.speciesnet
            counts["cases"] += 1
            same_class = got is not None and got.label == want["class"]
            same_source = got is not None and got.source == want["source"]
            same_score = got is not None and abs(got.score - want["score"]) <= SCORE_TOLERANCE
            final = decision.prediction
            final_ok = (final is not None and final.label == parse(want["class"]).plain
                        and final.source == want["source"] and abs(final.score - want["score"]) <= SCORE_TOLERANCE)
            counts["class"] += same_class
            counts["source"] += same_source
            counts["score"] += same_score
            counts["all"] += same_class and same_source and same_score
            counts["final"] += final_ok
            counts[f"rule:{want['source']}"] += 1
            if not (same_class and same_source and same_score and final_ok) and len(misses) < 10:
                misses.append({"line": number, "case": case,
                               "wildeye": vars(got) if got else None, "final": vars(final) if final else None})
    return {"counts": dict(counts), "misses": misses}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases_dir", type=Path, help="folder with cases.jsonl, taxonomy_release.txt, "
                                                     "geofence_release.json")
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    missing = [name for name in ("cases.jsonl", "taxonomy_release.txt", "geofence_release.json")
               if not (args.cases_dir / name).is_file()]
    if missing:
        print(f"speciesnet_parity: error: {args.cases_dir} lacks {', '.join(missing)}", file=sys.stderr)
        return 2
    result = compare(args.cases_dir, args.limit)
    counts = result["counts"]
    n = counts.get("cases", 0)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for key in ("class", "source", "score", "all", "final"):
            print(f"{key:>7}: {counts.get(key, 0)}/{n} = {100.0 * counts.get(key, 0) / max(n, 1):.2f}%")
        rules = sorted((k[5:], v) for k, v in counts.items() if k.startswith("rule:"))
        print("rules exercised: " + ", ".join(f"{name} {count}" for name, count in rules))
        for miss in result["misses"]:
            print(f"line {miss['line']}: speciesnet {miss['case']['speciesnet']} wildeye {miss['wildeye']} "
                  f"final {miss['final']}")
    ok = n > 0 and counts.get("all", 0) == n and counts.get("final", 0) == n
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
