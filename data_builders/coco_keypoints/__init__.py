"""TFDS builder of a user's COCO-format person keypoints; importing registers ``coco_keypoints``."""

from flowpose_jax.data import coco_format
from flowpose_jax.data_builders.coco_keypoints.coco_keypoints import CocoKeypoints, find_annotation_files, load_annotation_file

__all__ = ["CocoKeypoints", "coco_format", "find_annotation_files", "load_annotation_file"]
