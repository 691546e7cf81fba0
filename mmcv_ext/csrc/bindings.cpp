// Registers every op of mmcv_ext and reports how the extension was built.
#include <ATen/Parallel.h>
#include <torch/csrc/utils/pybind.h>  // pybind11 + at::Tensor casters, lighter than torch/extension.h
#include <torch/version.h>

#include <string>

#ifdef MMCV_EXT_WITH_CUDA
#include <cuda.h>
#endif

#include "confusion_matrix/confusion_matrix.h"
#include "png_unfilter/png_unfilter.h"
#include "resize_argmax/resize_argmax.h"
#include "resize_crop/resize_crop.h"
#include "seg_cross_entropy/seg_cross_entropy.h"

namespace {

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return "gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

pybind11::dict build_info() {
  pybind11::dict info;
  info["compiler"] = compiler();
  info["torch"] = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
                  "." + std::to_string(TORCH_VERSION_PATCH);
  info["openmp"] = at::get_parallel_info().find("OpenMP") != std::string::npos;
#ifdef MMCV_EXT_WITH_CUDA
  info["cuda"] = true;
  info["cuda_version"] = std::to_string(CUDA_VERSION / 1000) + "." + std::to_string(CUDA_VERSION % 1000 / 10);
#else
  info["cuda"] = false;
  info["cuda_version"] = pybind11::none();
#endif
  info["ops"] = pybind11::make_tuple("resize_argmax", "seg_cross_entropy", "confusion_matrix", "resize_crop",
                                     "png_unfilter");
  return info;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "Fused segmentation ops of mmseg_ddrnet (CPU and, when built with them, CUDA kernels)";
  m.def("build_info", &build_info, "How the extension was built");
  m.def("resize_argmax", &mmcv_ext::resize_argmax, "Bilinear resize fused with argmax over C",
        pybind11::arg("logits"), pybind11::arg("out_h"), pybind11::arg("out_w"),
        pybind11::arg("align_corners"));
  m.def("seg_ce_forward", &mmcv_ext::seg_ce_forward,
        "Per-pixel cross-entropy of bilinearly upsampled logits",
        pybind11::arg("logits"), pybind11::arg("label"), pybind11::arg("weight"),
        pybind11::arg("ignore_index"), pybind11::arg("align_corners"));
  m.def("seg_ce_backward", &mmcv_ext::seg_ce_backward,
        "Gradient of seg_ce_forward's weighted pixel losses w.r.t. the logits",
        pybind11::arg("logits"), pybind11::arg("label"), pybind11::arg("weight"),
        pybind11::arg("lse"), pybind11::arg("keep"), pybind11::arg("scale"),
        pybind11::arg("ignore_index"), pybind11::arg("align_corners"));
  m.def("confusion_matrix", &mmcv_ext::confusion_matrix, "C×C (label, pred) histogram",
        pybind11::arg("pred"), pybind11::arg("label"), pybind11::arg("num_classes"),
        pybind11::arg("ignore_index"));
  m.def("resize_crop", &mmcv_ext::resize_crop,
        "A window of a bilinearly resized uint8 HWC image (cv2.resize arithmetic), the rest not computed",
        pybind11::arg("src"), pybind11::arg("src_h"), pybind11::arg("dst_h"), pybind11::arg("dst_w"),
        pybind11::arg("y0"), pybind11::arg("y1"), pybind11::arg("x0"), pybind11::arg("x1"));
  m.def("resize_crop_rows_needed", &mmcv_ext::resize_crop_rows_needed,
        "How many source rows from the top rows [0, y1) of a bilinear resize read",
        pybind11::arg("src_h"), pybind11::arg("dst_h"), pybind11::arg("y1"));
  m.def("png_unfilter", &mmcv_ext::png_unfilter,
        "Undo the scanline filters of inflated 8-bit PNG data (optionally to BGR, alpha dropped)",
        pybind11::arg("raw"), pybind11::arg("rows"), pybind11::arg("width"), pybind11::arg("channels"),
        pybind11::arg("bgr"));
}
