// Argument checks shared by the ops (the Python side validates user input first; these guard
// the kernels against misuse from C++ or Python internals).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#define MMCV_EXT_CHECK_CONTIGUOUS(x) TORCH_CHECK((x).is_contiguous(), #x " must be contiguous")
#define MMCV_EXT_CHECK_SAME_DEVICE(x, y) \
  TORCH_CHECK((x).device() == (y).device(), #x " and " #y " must be on the same device")

namespace mmcv_ext {

// N×C×h×w logits with at least one class and one source pixel (N may be 0).
inline void check_logits(const char* op, const at::Tensor& logits) {
  TORCH_CHECK(logits.dim() == 4, op, ": logits must be N×C×h×w, got ", logits.dim(), " dims");
  TORCH_CHECK(logits.size(1) > 0 && logits.size(2) > 0 && logits.size(3) > 0, op,
              ": logits must have C, h, w > 0, got shape ", logits.sizes());
}

// Device dispatch statement: returns `name_cuda(...)` for CUDA tensors (when compiled with CUDA
// kernels) and `name_cpu(...)` otherwise.
#ifdef MMCV_EXT_WITH_CUDA
#define MMCV_EXT_DISPATCH_DEVICE(tensor, name, ...)            \
  if ((tensor).is_cuda()) return name##_cuda(__VA_ARGS__); \
  return name##_cpu(__VA_ARGS__)
#else
#define MMCV_EXT_DISPATCH_DEVICE(tensor, name, ...)                                      \
  TORCH_CHECK(!(tensor).is_cuda(), #name ": mmcv_ext was built without CUDA kernels"); \
  return name##_cpu(__VA_ARGS__)
#endif

}  // namespace mmcv_ext
