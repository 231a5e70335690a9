"""Config-driven fine-tuning of timm classifiers into wildeye model packages.

    config.py     TrainConfig: the YAML schema (unknown keys rejected, one-line errors)
    data.py       data sources (FiftyOne, Camtrap DP, COCO Camera Traps, folder-of-folders), class mapping,
                  leak-free splits by sequence / location / deployment, the crop dataset (decoded, cropped
                  and preprocessed by wildeye.inference, bursts by wildeye.ingest.sequences)
    loop.py       training: checkpoints every epoch, resume, early stopping, class balancing, AMP on GPU,
                  timm's LR schedulers
    metrics.py    per-class precision/recall/F1, confusion matrix, PR curves (sklearn.metrics), top-k accuracy
    calibrate.py  per-class thresholds that reach a target precision on validation data
    evaluate.py   `evaluate_model`: a packaged model against any data source
    card.py       the model card and the other files of a finished package

The `wildeye train` command is wildeye.commands.train.

Nothing heavy is imported here: `import wildeye.train` stays cheap.
"""
