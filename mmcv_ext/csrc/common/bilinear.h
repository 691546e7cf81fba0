// Bilinear source taps computed exactly as PyTorch's upsample_bilinear2d does, so that fused
// kernels reproduce F.interpolate(..., mode='bilinear') to the last bit in practice.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MMCV_EXT_HD __host__ __device__ __forceinline__
#else
#define MMCV_EXT_HD inline
#endif

namespace mmcv_ext {

// The two source indices of one output coordinate and their weights (w0 + w1 = 1). `copy` marks
// a dimension whose input and output sizes are equal: the value is the source's own (i1 = i0,
// weights 1 and 0 never applied), as when the reference skips the resize, so that an inf in the
// next row or column cannot turn into inf * 0 = NaN.
template <typename acc_t>
struct Tap {
  int64_t i0, i1;
  acc_t w0, w1;
  bool copy;
};

// Ratio between source and destination coordinates (area_pixel_compute_scale, no explicit scale).
template <typename acc_t>
MMCV_EXT_HD acc_t source_scale(int64_t in_size, int64_t out_size, bool align_corners) {
  if (align_corners) {
    return out_size > 1 ? static_cast<acc_t>(in_size - 1) / static_cast<acc_t>(out_size - 1)
                        : static_cast<acc_t>(0);
  }
  return static_cast<acc_t>(in_size) / static_cast<acc_t>(out_size);
}

// Source taps of destination index `dst` (area_pixel_compute_source_index + index guards).
template <typename acc_t>
MMCV_EXT_HD Tap<acc_t> source_tap(acc_t scale, int64_t dst, int64_t in_size, int64_t out_size,
                                  bool align_corners) {
  Tap<acc_t> tap;
  if (in_size == out_size) {
    tap.i0 = tap.i1 = dst;
    tap.w0 = static_cast<acc_t>(1);
    tap.w1 = static_cast<acc_t>(0);
    tap.copy = true;
    return tap;
  }
  acc_t src = align_corners
                  ? scale * static_cast<acc_t>(dst)
                  : scale * (static_cast<acc_t>(dst) + static_cast<acc_t>(0.5)) - static_cast<acc_t>(0.5);
  if (src < static_cast<acc_t>(0)) src = static_cast<acc_t>(0);
  int64_t i0 = static_cast<int64_t>(::floor(src));
  if (i0 > in_size - 1) i0 = in_size - 1;
  acc_t lambda = src - static_cast<acc_t>(i0);
  if (lambda < static_cast<acc_t>(0)) lambda = static_cast<acc_t>(0);
  if (lambda > static_cast<acc_t>(1)) lambda = static_cast<acc_t>(1);
  tap.i0 = i0;
  tap.i1 = i0 < in_size - 1 ? i0 + 1 : i0;
  tap.w0 = static_cast<acc_t>(1) - lambda;
  tap.w1 = lambda;
  tap.copy = false;
  return tap;
}

// The value between source values a (at i0) and b (at i1) given by one tap.
template <typename acc_t>
MMCV_EXT_HD acc_t blend(acc_t a, acc_t b, const Tap<acc_t>& t) {
  return t.copy ? a : a * t.w0 + b * t.w1;
}

// Value of one plane (row-major, `width` columns) at the output point given by its taps, with
// PyTorch's order of operations: along x within each source row first, then along y.
template <typename scalar_t, typename acc_t>
MMCV_EXT_HD acc_t interpolate(const scalar_t* plane, int64_t width, const Tap<acc_t>& ty,
                              const Tap<acc_t>& tx) {
  const scalar_t* r0 = plane + ty.i0 * width;
  const acc_t t0 = blend(static_cast<acc_t>(r0[tx.i0]), static_cast<acc_t>(r0[tx.i1]), tx);
  if (ty.copy) return t0;
  const scalar_t* r1 = plane + ty.i1 * width;
  const acc_t t1 = blend(static_cast<acc_t>(r1[tx.i0]), static_cast<acc_t>(r1[tx.i1]), tx);
  return t0 * ty.w0 + t1 * ty.w1;
}

}  // namespace mmcv_ext
