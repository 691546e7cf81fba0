// confusion_matrix: C×C histogram of (label, pred) pairs, rows = label. Returns int64 counts of
// length C*C + 1: the matrix row-major, then the number of counted pixels whose prediction is
// outside [0, C) (an error the caller reports). Labels equal to ignore_index or outside [0, C)
// are not counted. pred and label: flat uint8, int32 or int64 tensors of the same length.
#pragma once

#include "../common/checks.h"

namespace mmcv_ext {

at::Tensor confusion_matrix_cpu(const at::Tensor& pred, const at::Tensor& label,
                                int64_t num_classes, int64_t ignore_index);
#ifdef MMCV_EXT_WITH_CUDA
at::Tensor confusion_matrix_cuda(const at::Tensor& pred, const at::Tensor& label,
                                 int64_t num_classes, int64_t ignore_index);
#endif

inline at::Tensor confusion_matrix(const at::Tensor& pred, const at::Tensor& label,
                                   int64_t num_classes, int64_t ignore_index) {
  TORCH_CHECK(num_classes > 0, "confusion_matrix: num_classes must be positive");
  TORCH_CHECK(pred.numel() == label.numel(), "confusion_matrix: pred and label sizes differ");
  MMCV_EXT_CHECK_CONTIGUOUS(pred);
  MMCV_EXT_CHECK_CONTIGUOUS(label);
  MMCV_EXT_CHECK_SAME_DEVICE(pred, label);
  MMCV_EXT_DISPATCH_DEVICE(pred, confusion_matrix, pred, label, num_classes, ignore_index);
}

// Dispatch over the index dtypes the kernels read (uint8, int32, int64) of one tensor.
#define MMCV_EXT_DISPATCH_INDEX_TYPE(TYPE, NAME, ALIAS, ...)                        \
  [&] {                                                                              \
    switch (TYPE) {                                                                  \
      case at::kByte: { using ALIAS = uint8_t; return __VA_ARGS__(); }               \
      case at::kInt: { using ALIAS = int32_t; return __VA_ARGS__(); }                \
      case at::kLong: { using ALIAS = int64_t; return __VA_ARGS__(); }               \
      default: TORCH_CHECK(false, NAME ": indices must be uint8, int32 or int64");   \
    }                                                                                \
  }()

}  // namespace mmcv_ext
