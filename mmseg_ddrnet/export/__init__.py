"""Export to ONNX and run exported models through onnxruntime (optional packages onnx and onnxruntime)."""
from .onnx_export import DeployModel, export_onnx, verify_onnx
from .onnxruntime_segmentor import ONNXRuntimeSegmentor

__all__ = ['DeployModel', 'export_onnx', 'verify_onnx', 'ONNXRuntimeSegmentor']
