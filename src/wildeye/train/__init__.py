"""Config-driven fine-tuning of timm classifiers into wildeye model packages.

    config.py     TrainConfig: the YAML schema (unknown keys rejected, one-line errors)
    data.py       data sources (FiftyOne, Camtrap DP, COCO Camera Traps, folder-of-folders), class mapping,
                  leak-free splits by sequence / location / deployment, the crop dataset
    loop.py       training: checkpoints every epoch, resume, early stopping, class balancing, AMP on GPU
    metrics.py    per-class precision/recall/F1, confusion matrix, PR curves, top-k accuracy
    calibrate.py  per-class thresholds that reach a target precision on validation data
    evaluate.py   `evaluate_model`: a packaged model against any data source
    commands.py   the `wildeye train` click command

Nothing heavy is imported here: `import wildeye.train` stays cheap.
"""
