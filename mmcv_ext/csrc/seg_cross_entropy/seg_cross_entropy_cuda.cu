// CUDA kernels of seg_cross_entropy: one thread per output pixel. The backward scatters each
// pixel's gradient to its 4 low-resolution neighbours with atomic adds, so the order of the
// float additions (and the last bits of the gradient) vary from run to run, as in PyTorch's own
// upsample_bilinear2d backward: it alerts under torch.use_deterministic_algorithms(True).
#include <ATen/Context.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/Atomic.cuh>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>

#include <limits>

#include "../common/bilinear.h"
#include "../common/cuda_utils.cuh"
#include "seg_cross_entropy.h"

namespace mmcv_ext {
namespace {

template <typename acc_t>
struct Geometry {
  int64_t n, c, h, w, out_h, out_w;
  acc_t scale_y, scale_x;
  bool align_corners;

  __device__ __forceinline__ void taps(int64_t i, Tap<acc_t>& ty, Tap<acc_t>& tx) const {
    ty = source_tap<acc_t>(scale_y, (i / out_w) % out_h, h, out_h, align_corners);
    tx = source_tap<acc_t>(scale_x, i % out_w, w, out_w, align_corners);
  }
};

template <typename scalar_t, typename acc_t>
__global__ void forward_kernel(const scalar_t* __restrict__ in, const int64_t* __restrict__ label,
                               const acc_t* __restrict__ weight, acc_t* __restrict__ loss,
                               acc_t* __restrict__ prob, acc_t* __restrict__ lse, int64_t total,
                               Geometry<acc_t> g, int64_t ignore_index, int64_t* stats) {
  int64_t valid = 0, bad = 0;
  MMCV_EXT_GRID_STRIDE_LOOP(i, total) {
    const int64_t l = label[i];
    if (l == ignore_index || l < 0 || l >= g.c) {
      bad += l != ignore_index;
      loss[i] = 0;
      prob[i] = std::numeric_limits<acc_t>::infinity();
      lse[i] = 0;
      continue;
    }
    Tap<acc_t> ty, tx;
    g.taps(i, ty, tx);
    const scalar_t* image = in + (i / (g.out_h * g.out_w)) * g.c * g.h * g.w;
    acc_t m = interpolate<scalar_t, acc_t>(image, g.w, ty, tx), s = 1;  // online logsumexp
    for (int64_t k = 1; k < g.c; ++k) {
      const acc_t z = interpolate<scalar_t, acc_t>(image + k * g.h * g.w, g.w, ty, tx);
      if (z > m) {
        s = s * exp(m - z) + 1;
        m = z;
      } else {
        s += exp(z - m);
      }
    }
    const acc_t shifted = interpolate<scalar_t, acc_t>(image + l * g.h * g.w, g.w, ty, tx) - m;
    loss[i] = (weight ? weight[l] : acc_t(1)) * (log(s) - shifted);
    prob[i] = exp(shifted) / s;
    lse[i] = m + log(s);
    ++valid;
  }
  warp_add(stats, valid);
  warp_add(stats + 1, bad);
}

template <typename scalar_t, typename acc_t>
__global__ void backward_kernel(const scalar_t* __restrict__ in, const int64_t* __restrict__ label,
                                const acc_t* __restrict__ weight, const acc_t* __restrict__ lse,
                                const bool* __restrict__ keep, const acc_t* __restrict__ scale,
                                acc_t* __restrict__ grad, int64_t total, Geometry<acc_t> g,
                                int64_t ignore_index) {
  MMCV_EXT_GRID_STRIDE_LOOP(i, total) {
    const int64_t l = label[i];
    if (l == ignore_index || l < 0 || l >= g.c || (keep && !keep[i])) continue;
    Tap<acc_t> ty, tx;
    g.taps(i, ty, tx);
    const int64_t offset = (i / (g.out_h * g.out_w)) * g.c * g.h * g.w;
    const acc_t coef = scale[0] * (weight ? weight[l] : acc_t(1));
    for (int64_t k = 0; k < g.c; ++k) {
      const int64_t plane = offset + k * g.h * g.w;
      const acc_t z = interpolate<scalar_t, acc_t>(in + plane, g.w, ty, tx);
      const acc_t d = coef * (exp(z - lse[i]) - acc_t(l == k ? 1 : 0));
      acc_t* dst = grad + plane;
      gpuAtomicAdd(dst + ty.i0 * g.w + tx.i0, d * ty.w0 * tx.w0);  // copy taps: weight 1, no other tap
      if (!tx.copy) gpuAtomicAdd(dst + ty.i0 * g.w + tx.i1, d * ty.w0 * tx.w1);
      if (ty.copy) continue;
      gpuAtomicAdd(dst + ty.i1 * g.w + tx.i0, d * ty.w1 * tx.w0);
      if (!tx.copy) gpuAtomicAdd(dst + ty.i1 * g.w + tx.i1, d * ty.w1 * tx.w1);
    }
  }
}

template <typename acc_t>
Geometry<acc_t> geometry(const at::Tensor& logits, const at::Tensor& label, bool align_corners) {
  const int64_t h = logits.size(2), w = logits.size(3), out_h = label.size(1), out_w = label.size(2);
  return {logits.size(0), logits.size(1), h, w, out_h, out_w,
          source_scale<acc_t>(h, out_h, align_corners), source_scale<acc_t>(w, out_w, align_corners),
          align_corners};
}

}  // namespace

SegCEForward seg_ce_forward_cuda(const at::Tensor& logits, const at::Tensor& label,
                                 const c10::optional<at::Tensor>& weight, int64_t ignore_index,
                                 bool align_corners) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const auto opts = logits.options().dtype(seg_ce_acc_type(logits));
  at::Tensor loss = at::empty(label.sizes(), opts), prob = at::empty(label.sizes(), opts);
  at::Tensor lse = at::empty(label.sizes(), opts);
  at::Tensor stats = at::zeros({2}, label.options());
  const int64_t total = label.numel();
  if (total == 0) return {loss, prob, lse, stats};
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "seg_ce_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    forward_kernel<scalar_t, acc_t><<<blocks_for(total), kThreads, 0, stream>>>(
        logits.data_ptr<scalar_t>(), label.data_ptr<int64_t>(),
        weight.has_value() ? weight->data_ptr<acc_t>() : nullptr, loss.data_ptr<acc_t>(),
        prob.data_ptr<acc_t>(), lse.data_ptr<acc_t>(), total,
        geometry<acc_t>(logits, label, align_corners), ignore_index, stats.data_ptr<int64_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {loss, prob, lse, stats};
}

at::Tensor seg_ce_backward_cuda(const at::Tensor& logits, const at::Tensor& label,
                                const c10::optional<at::Tensor>& weight, const at::Tensor& lse,
                                const c10::optional<at::Tensor>& keep, const at::Tensor& scale,
                                int64_t ignore_index, bool align_corners) {
  const c10::cuda::CUDAGuard guard(logits.device());
  if (logits.size(2) != label.size(1) || logits.size(3) != label.size(2)) {  // same size: one writer per value
    at::globalContext().alertNotDeterministic("seg_ce_backward_cuda (mmcv_ext seg_cross_entropy backward)");
  }
  at::Tensor grad = at::zeros(logits.sizes(), logits.options().dtype(seg_ce_acc_type(logits)));
  const int64_t total = label.numel();
  if (total == 0) return grad;
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "seg_ce_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    backward_kernel<scalar_t, acc_t><<<blocks_for(total), kThreads, 0, stream>>>(
        logits.data_ptr<scalar_t>(), label.data_ptr<int64_t>(),
        weight.has_value() ? weight->data_ptr<acc_t>() : nullptr, lse.data_ptr<acc_t>(),
        keep.has_value() ? keep->data_ptr<bool>() : nullptr, scale.data_ptr<acc_t>(),
        grad.data_ptr<acc_t>(), total, geometry<acc_t>(logits, label, align_corners), ignore_index);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return grad;
}

}  // namespace mmcv_ext
