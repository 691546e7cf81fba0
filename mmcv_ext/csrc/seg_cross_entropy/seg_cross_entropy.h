// seg_cross_entropy: per-pixel cross-entropy of N×C×h×w logits bilinearly upsampled (on the
// fly) to N×H×W labels, and its gradient scattered back to the low-resolution logits.
//
// forward  -> (pixel_loss, target_prob, lse, stats) with pixel_loss = weight[l] * (lse - z_l)
//             (0 where ignored), target_prob = softmax_l (+inf where ignored), lse = logsumexp_c z
//             (float32 for half/float logits, float64 for double) and stats = int64 [n_valid,
//             n_bad] (labels that are neither ignore_index nor in [0, C)).
// backward -> d/dlogits of sum_pixels coef * pixel_loss, coef = scale[0] * keep (keep: optional
//             bool N×H×W mask), in the compute dtype.
#pragma once

#include <c10/util/Optional.h>

#include <tuple>

#include "../common/checks.h"

namespace mmcv_ext {

using SegCEForward = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

SegCEForward seg_ce_forward_cpu(const at::Tensor& logits, const at::Tensor& label,
                                const c10::optional<at::Tensor>& weight, int64_t ignore_index,
                                bool align_corners);
at::Tensor seg_ce_backward_cpu(const at::Tensor& logits, const at::Tensor& label,
                               const c10::optional<at::Tensor>& weight, const at::Tensor& lse,
                               const c10::optional<at::Tensor>& keep, const at::Tensor& scale,
                               int64_t ignore_index, bool align_corners);
#ifdef MMCV_EXT_WITH_CUDA
SegCEForward seg_ce_forward_cuda(const at::Tensor& logits, const at::Tensor& label,
                                 const c10::optional<at::Tensor>& weight, int64_t ignore_index,
                                 bool align_corners);
at::Tensor seg_ce_backward_cuda(const at::Tensor& logits, const at::Tensor& label,
                                const c10::optional<at::Tensor>& weight, const at::Tensor& lse,
                                const c10::optional<at::Tensor>& keep, const at::Tensor& scale,
                                int64_t ignore_index, bool align_corners);
#endif

// The float dtype the kernels compute in for `logits`.
inline at::ScalarType seg_ce_acc_type(const at::Tensor& logits) {
  return logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

inline void seg_ce_check(const at::Tensor& logits, const at::Tensor& label,
                         const c10::optional<at::Tensor>& weight) {
  check_logits("seg_cross_entropy", logits);
  TORCH_CHECK(label.dim() == 3 && label.size(0) == logits.size(0),
              "seg_cross_entropy: label must be N×H×W with the logits' N");
  TORCH_CHECK(label.scalar_type() == at::kLong, "seg_cross_entropy: label must be int64");
  MMCV_EXT_CHECK_CONTIGUOUS(logits);
  MMCV_EXT_CHECK_CONTIGUOUS(label);
  MMCV_EXT_CHECK_SAME_DEVICE(logits, label);
  if (weight.has_value()) {
    TORCH_CHECK(weight->dim() == 1 && weight->size(0) == logits.size(1) &&
                    weight->scalar_type() == seg_ce_acc_type(logits) && weight->is_contiguous(),
                "seg_cross_entropy: weight must be a contiguous C-vector in the compute dtype");
    MMCV_EXT_CHECK_SAME_DEVICE(logits, *weight);
  }
}

inline SegCEForward seg_ce_forward(const at::Tensor& logits, const at::Tensor& label,
                                   const c10::optional<at::Tensor>& weight, int64_t ignore_index,
                                   bool align_corners) {
  seg_ce_check(logits, label, weight);
  MMCV_EXT_DISPATCH_DEVICE(logits, seg_ce_forward, logits, label, weight, ignore_index,
                                  align_corners);
}

inline at::Tensor seg_ce_backward(const at::Tensor& logits, const at::Tensor& label,
                                  const c10::optional<at::Tensor>& weight, const at::Tensor& lse,
                                  const c10::optional<at::Tensor>& keep, const at::Tensor& scale,
                                  int64_t ignore_index, bool align_corners) {
  seg_ce_check(logits, label, weight);
  TORCH_CHECK(lse.sizes() == label.sizes() && lse.scalar_type() == seg_ce_acc_type(logits) &&
                  lse.is_contiguous(),
              "seg_cross_entropy: lse must be the forward's N×H×W output");
  TORCH_CHECK(scale.numel() == 1 && scale.scalar_type() == seg_ce_acc_type(logits),
              "seg_cross_entropy: scale must be a one-element tensor in the compute dtype");
  MMCV_EXT_CHECK_SAME_DEVICE(logits, lse);
  MMCV_EXT_CHECK_SAME_DEVICE(logits, scale);
  if (keep.has_value()) {
    TORCH_CHECK(keep->sizes() == label.sizes() && keep->scalar_type() == at::kBool &&
                    keep->is_contiguous(),
                "seg_cross_entropy: keep must be a contiguous bool N×H×W mask");
    MMCV_EXT_CHECK_SAME_DEVICE(logits, *keep);
  }
  MMCV_EXT_DISPATCH_DEVICE(logits, seg_ce_backward, logits, label, weight, lse, keep,
                                  scale, ignore_index, align_corners);
}

}  // namespace mmcv_ext
