"""FiftyOne review of videos: video samples with their sampled frames' boxes as frame labels.

A FiftyOne dataset holds one media type, so a run's videos go to their own dataset, `<dataset>-video`, beside the
stills' one. Each video sample carries the same machine fields as a still (the best frame's boxes in `detections`,
the video's `prediction`, `needs_review`, deployment, ...; see review.dataset) and, per sampled frame,
`frames[n]["detections"]` (FiftyOne numbers frames from 1: frame n is MegaDetector's frame_number n - 1) with
`best_frame` true on the frame the video's decision comes from (inference.video). Reviewers label a video as they
label a still (`ground_truth`, tags); `wildeye review pull --dataset <dataset>-video` brings those labels back.

Video metadata (frame rate, frame count, size, duration) comes from the journal, as OpenCV read it while sampling,
so no `ffprobe` is needed (FiftyOne's own `compute_metadata` calls it for videos). Frame labels are rewritten on each
sync; human fields and tags are never touched.
"""

from __future__ import annotations

from wildeye.ingest.video import media_type

VIDEO_SUFFIX = "-video"
FRAME_DETECTIONS = "detections"
BEST_FRAME = "best_frame"


def video_dataset_name(name: str) -> str:
    return name + VIDEO_SUFFIX


def video_metadata(path: str, clip) -> dict | None:
    """FiftyOne's VideoMetadata, in database form, from a journal VideoRecord."""
    if clip is None:
        return None
    duration = clip.frame_count / clip.frame_rate if clip.frame_rate and clip.frame_count else None
    values = {"frame_rate": clip.frame_rate, "total_frame_count": clip.frame_count, "frame_width": clip.width,
              "frame_height": clip.height, "duration": duration, "mime_type": media_type(path)}
    return {"_cls": "VideoMetadata", **{k: v for k, v in values.items() if v is not None}}


def sync_videos(fo, name: str, values: dict, videos: dict, frames: dict, *, declare_fields, write_fields) -> dict:
    """The video samples of `values` (review.dataset's machine values of the videos, keyed by file path) into the
    dataset `<name>-video`, with their frame labels; returns a summary. declare_fields / write_fields: review.dataset's
    own schema and bulk writers (the same machine fields as stills)."""
    vname = video_dataset_name(name)
    created = not fo.dataset_exists(vname)
    dataset = fo.Dataset(vname, persistent=True) if created else fo.load_dataset(vname)
    dataset.media_type = "video"
    declare_fields(fo, dataset)
    frame_schema = dataset.get_frame_field_schema() or {}
    if FRAME_DETECTIONS not in frame_schema:
        dataset.add_frame_field(FRAME_DETECTIONS, fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections)
    if BEST_FRAME not in frame_schema:
        dataset.add_frame_field(BEST_FRAME, fo.BooleanField)
    for filepath, path in values["media_path"].items():
        values["metadata"][filepath] = video_metadata(path, videos.get(path))
    existing = set(dataset.values("filepath"))
    new = [p for p in values["media_path"] if p not in existing]
    if new:
        dataset.add_samples([fo.Sample(filepath=p) for p in new], progress=False)
    write_fields(dataset, values)
    labelled = 0
    for sample in dataset.select_by("filepath", list(values["media_path"])):  # few: one save each
        path = values["media_path"][sample.filepath]
        clip = videos.get(path)
        sample.frames.clear()
        for frame in frames.get(path, []):
            boxes = [fo.Detection(label=d.category, bounding_box=list(d.bbox), confidence=d.conf,
                                  **({"classifier_label": d.classifications[0][0],
                                      "classifier_score": float(d.classifications[0][1])}
                                     if d.classifications else {}))
                     for d in frame.detections]
            labelled += len(boxes)
            sample.frames[frame.number + 1] = fo.Frame(
                **{FRAME_DETECTIONS: fo.Detections(detections=boxes),
                   BEST_FRAME: clip is not None and frame.number == clip.best_frame})
        sample.save()
    dataset.save()
    return {"video_dataset": vname, "videos": len(values["media_path"]), "video_frame_detections": labelled}
