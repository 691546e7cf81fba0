// CUDA kernel of resize_argmax: one thread per output pixel, looping over the C classes.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/empty.h>

#include "../common/bilinear.h"
#include "../common/cuda_utils.cuh"
#include "resize_argmax.h"

namespace mmcv_ext {
namespace {

template <typename scalar_t, typename acc_t>
__global__ void resize_argmax_kernel(const scalar_t* __restrict__ in, int64_t* __restrict__ out,
                                     int64_t total, int64_t c, int64_t h, int64_t w, int64_t out_h,
                                     int64_t out_w, acc_t scale_y, acc_t scale_x, bool align_corners) {
  MMCV_EXT_GRID_STRIDE_LOOP(i, total) {
    const int64_t x = i % out_w, y = (i / out_w) % out_h, n = i / (out_w * out_h);
    const Tap<acc_t> ty = source_tap<acc_t>(scale_y, y, h, out_h, align_corners);
    const Tap<acc_t> tx = source_tap<acc_t>(scale_x, x, w, out_w, align_corners);
    const scalar_t* image = in + n * c * h * w;
    acc_t best = interpolate<scalar_t, acc_t>(image, w, ty, tx);
    int64_t arg = 0;
    for (int64_t k = 1; k < c; ++k) {
      const acc_t v = interpolate<scalar_t, acc_t>(image + k * h * w, w, ty, tx);
      if (v > best || (isnan(v) && !isnan(best))) {
        best = v;
        arg = k;
      }
    }
    out[i] = arg;
  }
}

}  // namespace

at::Tensor resize_argmax_cuda(const at::Tensor& logits, int64_t out_h, int64_t out_w,
                              bool align_corners) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const int64_t n = logits.size(0), c = logits.size(1), h = logits.size(2), w = logits.size(3);
  at::Tensor out = at::empty({n, out_h, out_w}, logits.options().dtype(at::kLong));
  const int64_t total = out.numel();
  if (total == 0) return out;
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "resize_argmax_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    resize_argmax_kernel<scalar_t, acc_t><<<blocks_for(total), kThreads, 0, stream>>>(
        logits.data_ptr<scalar_t>(), out.data_ptr<int64_t>(), total, c, h, w, out_h, out_w,
        source_scale<acc_t>(h, out_h, align_corners), source_scale<acc_t>(w, out_w, align_corners),
        align_corners);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace mmcv_ext
