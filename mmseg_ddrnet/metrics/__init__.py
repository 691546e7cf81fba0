"""Metrics: pure functions on confusion matrices, metric tables, the Cityscapes benchmark evaluation, class names."""
from .class_names import (CAMVID_CLASSES, CAMVID_PALETTE, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, camvid_classes,
                          camvid_palette, cityscapes_classes, cityscapes_palette, get_classes, get_palette)
from .cityscapes import cityscapes_summary, evaluate_cityscapes, find_cityscapes_gt
from .confusion import (confusion_to_areas, confusion_to_metrics, eval_metrics, f_score, image_confusion_matrix,
                      intersect_and_union, map_labels, mean_dice, mean_fscore, mean_iou, pre_eval_to_metrics,
                      sum_confusion, total_area_to_metrics)
from .tables import dump_metrics_json, format_table, metric_tables, summarize

__all__ = ['CAMVID_CLASSES', 'CAMVID_PALETTE', 'CITYSCAPES_CLASSES', 'CITYSCAPES_PALETTE', 'camvid_classes',
           'camvid_palette', 'cityscapes_classes', 'cityscapes_palette', 'get_classes', 'get_palette',
           'cityscapes_summary', 'evaluate_cityscapes', 'find_cityscapes_gt', 'confusion_to_areas',
           'confusion_to_metrics', 'eval_metrics', 'f_score', 'image_confusion_matrix', 'intersect_and_union',
           'map_labels', 'mean_dice', 'mean_fscore', 'mean_iou', 'pre_eval_to_metrics', 'sum_confusion',
           'total_area_to_metrics', 'dump_metrics_json', 'format_table', 'metric_tables', 'summarize']
