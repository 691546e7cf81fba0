// CPU kernel of resize_argmax: parallel over output rows; for each row the C planes are
// interpolated (from cached x-interpolated source rows) into a running (best value, class) row.
#include <ATen/OpMathType.h>
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/Parallel.h>

#include <type_traits>
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

// One output row: blend the x-interpolated source rows r0, r1 (c planes of out_w values) with the
// y weights (r0 itself when `copy`: same height, see Tap) and keep the class of the first maximum;
// written to dst as int64.
template <typename acc_t>
inline void blend_argmax_row(const acc_t* r0, const acc_t* r1, acc_t w0, acc_t w1, bool copy, int64_t c,
                             int64_t out_w, acc_t* best, int32_t* arg, int64_t* dst) {
  for (int64_t x = 0; x < out_w; ++x) {
    best[x] = copy ? r0[x] : r0[x] * w0 + r1[x] * w1;
    arg[x] = 0;
  }
  for (int32_t k = 1; k < c; ++k) {  // branch-free so that the compiler vectorises it
    const acc_t* p0 = r0 + k * out_w;
    const acc_t* p1 = r1 + k * out_w;
    for (int64_t x = 0; x < out_w; ++x) {
      const acc_t v = copy ? p0[x] : p0[x] * w0 + p1[x] * w1;
      const bool take = better(v, best[x]);
      best[x] = take ? v : best[x];
      arg[x] = take ? k : arg[x];
    }
  }
  for (int64_t x = 0; x < out_w; ++x) dst[x] = arg[x];
}

// The float version compiled for AVX-512 and AVX2 as well (chosen at load time by the CPU), the
// portable build being SSE2 only; the extension is built with -ffp-contract=off, so the wider
// code rounds exactly as the scalar one (no fused multiply-adds).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void blend_argmax_row_float(const float* r0, const float* r1, float w0, float w1, bool copy, int64_t c,
                            int64_t out_w, float* best, int32_t* arg, int64_t* dst) {
  blend_argmax_row<float>(r0, r1, w0, w1, copy, c, out_w, best, arg, dst);
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
      int64_t* dst = out + row * out_w;
      if constexpr (std::is_same<acc_t, float>::value) {
        blend_argmax_row_float(rows.first, rows.second, ty.w0, ty.w1, ty.copy, c, out_w, best.data(),
                               arg.data(), dst);
      } else {
        blend_argmax_row<acc_t>(rows.first, rows.second, ty.w0, ty.w1, ty.copy, c, out_w, best.data(),
                                arg.data(), dst);
      }
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
