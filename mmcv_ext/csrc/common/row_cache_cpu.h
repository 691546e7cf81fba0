// CPU helper: bilinear upsampling as PyTorch computes it is separable — each output value is
// t0 * wy0 + t1 * wy1 where t0, t1 are source rows i0, i1 interpolated along x. RowCache keeps
// the last two x-interpolated source rows (of `planes` consecutive planes), so a thread walking
// down the output rows interpolates each source row along x once instead of once per output row.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "bilinear.h"

namespace mmcv_ext {

template <typename acc_t>
std::vector<Tap<acc_t>> make_taps(int64_t in_size, int64_t out_size, bool align_corners) {
  const acc_t scale = source_scale<acc_t>(in_size, out_size, align_corners);
  std::vector<Tap<acc_t>> taps(out_size);
  for (int64_t i = 0; i < out_size; ++i) taps[i] = source_tap<acc_t>(scale, i, in_size, out_size, align_corners);
  return taps;
}

template <typename scalar_t, typename acc_t>
class RowCache {
 public:
  // `planes` planes of h×w values, upsampled along x with the taps `xs` (out_w = xs.size()).
  RowCache(int64_t planes, int64_t h, int64_t w, const std::vector<Tap<acc_t>>& xs)
      : planes_(planes), h_(h), w_(w), xs_(xs), copy_(!xs.empty() && xs[0].copy) {
    for (Slot& s : slots_) s.data.resize(planes * xs.size());
  }

  // x-interpolated source rows ty.i0 and ty.i1 of the planes starting at `base`: value of plane
  // p at output column x is first[p * out_w + x] (row i0) and second[p * out_w + x] (row i1).
  std::pair<const acc_t*, const acc_t*> rows(const scalar_t* base, const Tap<acc_t>& ty) {
    const int a = fetch(base, ty.i0, ty.i1);
    const int b = fetch(base, ty.i1, ty.i0);
    return {slots_[a].data.data(), slots_[b].data.data()};
  }

 private:
  struct Slot {
    const scalar_t* base = nullptr;
    int64_t row = -1;
    std::vector<acc_t> data;
  };

  // Index of the slot holding `row`, filling one that does not hold `keep` if needed.
  int fetch(const scalar_t* base, int64_t row, int64_t keep) {
    for (int i = 0; i < 2; ++i) {
      if (slots_[i].base == base && slots_[i].row == row) return i;
    }
    const int i = (slots_[0].base == base && slots_[0].row == keep) ? 1 : 0;
    Slot& s = slots_[i];
    s.base = base;
    s.row = row;
    const int64_t out_w = static_cast<int64_t>(xs_.size());
    for (int64_t p = 0; p < planes_; ++p) {
      const scalar_t* src = base + p * h_ * w_ + row * w_;
      acc_t* dst = s.data.data() + p * out_w;
      if (copy_) {  // same width: the source row itself
        for (int64_t x = 0; x < out_w; ++x) dst[x] = static_cast<acc_t>(src[x]);
        continue;
      }
      for (int64_t x = 0; x < out_w; ++x) {
        const Tap<acc_t>& tx = xs_[x];
        dst[x] = static_cast<acc_t>(src[tx.i0]) * tx.w0 + static_cast<acc_t>(src[tx.i1]) * tx.w1;
      }
    }
    return i;
  }

  int64_t planes_, h_, w_;
  const std::vector<Tap<acc_t>>& xs_;
  const bool copy_;
  Slot slots_[2];
};

}  // namespace mmcv_ext
