// resize_argmax: bilinear upsampling of N×C×h×w logits fused with the argmax over C.
#pragma once

#include "../common/checks.h"

namespace mmcv_ext {

at::Tensor resize_argmax_cpu(const at::Tensor& logits, int64_t out_h, int64_t out_w,
                             bool align_corners);
#ifdef MMCV_EXT_WITH_CUDA
at::Tensor resize_argmax_cuda(const at::Tensor& logits, int64_t out_h, int64_t out_w,
                              bool align_corners);
#endif

// int64 N×out_h×out_w class indices of F.interpolate(logits, (out_h, out_w)).argmax(1).
inline at::Tensor resize_argmax(const at::Tensor& logits, int64_t out_h, int64_t out_w,
                                bool align_corners) {
  check_logits("resize_argmax", logits);
  TORCH_CHECK(out_h > 0 && out_w > 0, "resize_argmax: the output size must be positive");
  MMCV_EXT_CHECK_CONTIGUOUS(logits);
  MMCV_EXT_DISPATCH_DEVICE(logits, resize_argmax, logits, out_h, out_w, align_corners);
}

}  // namespace mmcv_ext
