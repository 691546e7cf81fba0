// CPU kernel of resize_argmax: parallel over output rows; for each row the C planes are
// interpolated (from cached x-interpolated source rows) into a running (best value, class) row.
#include <ATen/OpMathType.h>
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/Parallel.h>

#include <vector>

#include "../common/row_cache_cpu.h"
#include "resize_argmax.h"

namespace mmcv_ext {
namespace {

// argmax keeps the first maximum and treats NaN as larger than everything (as torch.argmax).
template <typename acc_t>
inline bool better(acc_t v, acc_t best) {
  return v > best || (v != v && best == best);
}

template <typename scalar_t>
void resize_argmax_kernel(const scalar_t* in, int64_t* out, int64_t n, int64_t c, int64_t h,
                          int64_t w, int64_t out_h, int64_t out_w, bool align_corners) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto ys = make_taps<acc_t>(h, out_h, align_corners);
  const auto xs = make_taps<acc_t>(w, out_w, align_corners);
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, out_w * c));
  at::parallel_for(0, n * out_h, grain, [&](int64_t begin, int64_t end) {
    RowCache<scalar_t, acc_t> cache(c, h, w, xs);
    std::vector<acc_t> best(out_w);
    std::vector<int32_t> arg(out_w);
    for (int64_t row = begin; row < end; ++row) {
      const Tap<acc_t>& ty = ys[row % out_h];
      const auto rows = cache.rows(in + (row / out_h) * c * h * w, ty);
      for (int64_t x = 0; x < out_w; ++x) {
        best[x] = blend(rows.first[x], rows.second[x], ty);
        arg[x] = 0;
      }
      for (int32_t k = 1; k < c; ++k) {  // branch-free so that the compiler vectorises it
        const acc_t* r0 = rows.first + k * out_w;
        const acc_t* r1 = rows.second + k * out_w;
        for (int64_t x = 0; x < out_w; ++x) {
          const acc_t v = blend(r0[x], r1[x], ty);
          const bool take = better(v, best[x]);
          best[x] = take ? v : best[x];
          arg[x] = take ? k : arg[x];
        }
      }
      int64_t* dst = out + row * out_w;
      for (int64_t x = 0; x < out_w; ++x) dst[x] = arg[x];
    }
  });
}

}  // namespace

at::Tensor resize_argmax_cpu(const at::Tensor& logits, int64_t out_h, int64_t out_w,
                             bool align_corners) {
  const int64_t n = logits.size(0), c = logits.size(1), h = logits.size(2), w = logits.size(3);
  at::Tensor out = at::empty({n, out_h, out_w}, logits.options().dtype(at::kLong));
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "resize_argmax_cpu", [&] {
    resize_argmax_kernel<scalar_t>(logits.data_ptr<scalar_t>(), out.data_ptr<int64_t>(), n, c,
                                   h, w, out_h, out_w, align_corners);
  });
  return out;
}

}  // namespace mmcv_ext
