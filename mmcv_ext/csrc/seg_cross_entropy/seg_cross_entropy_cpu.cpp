// CPU kernels of seg_cross_entropy. The forward is parallel over output rows (all C upsampled
// values of a row live in a per-thread C×W buffer); the backward is parallel over (n, source row),
// each task owning the gradient rows it scatters into, so no atomics are needed. Both upsample
// through RowCache (x-interpolated source rows, each computed once per thread).
#include <ATen/OpMathType.h>
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <vector>

#include "../common/row_cache_cpu.h"
#include "../common/fast_exp.h"
#include "seg_cross_entropy.h"

namespace mmcv_ext {
namespace {

struct Shape {
  int64_t n, c, h, w, out_h, out_w;
};

// Per-pixel max and sum of exp(z - max) of one output row of C×out_w logits (vectorisable).
template <typename acc_t>
void row_softmax_stats(const acc_t* z, int64_t c, int64_t out_w, acc_t* m, acc_t* sum) {
  std::copy(z, z + out_w, m);
  for (int64_t k = 1; k < c; ++k) {
    for (int64_t x = 0; x < out_w; ++x) m[x] = std::max(m[x], z[k * out_w + x]);
  }
  std::fill(sum, sum + out_w, acc_t(0));
  for (int64_t k = 0; k < c; ++k) {
    for (int64_t x = 0; x < out_w; ++x) sum[x] += fast_exp(z[k * out_w + x] - m[x]);
  }
}

template <typename scalar_t>
void forward_kernel(const scalar_t* in, const int64_t* label, const at::opmath_type<scalar_t>* weight,
                    at::opmath_type<scalar_t>* loss, at::opmath_type<scalar_t>* prob,
                    at::opmath_type<scalar_t>* lse, const Shape& s, int64_t ignore_index,
                    bool align_corners, int64_t* stats) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto ys = make_taps<acc_t>(s.h, s.out_h, align_corners);
  const auto xs = make_taps<acc_t>(s.w, s.out_w, align_corners);
  std::atomic<int64_t> n_valid{0}, n_bad{0};
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(1, s.out_w * s.c));
  at::parallel_for(0, s.n * s.out_h, grain, [&](int64_t begin, int64_t end) {
    RowCache<scalar_t, acc_t> cache(s.c, s.h, s.w, xs);
    std::vector<acc_t> z(s.c * s.out_w), m(s.out_w), sum(s.out_w);
    int64_t valid = 0, bad = 0;
    for (int64_t row = begin; row < end; ++row) {
      const Tap<acc_t>& ty = ys[row % s.out_h];
      const auto rows = cache.rows(in + (row / s.out_h) * s.c * s.h * s.w, ty);
      for (int64_t i = 0; i < s.c * s.out_w; ++i) z[i] = blend(rows.first[i], rows.second[i], ty);
      row_softmax_stats(z.data(), s.c, s.out_w, m.data(), sum.data());
      for (int64_t x = 0; x < s.out_w; ++x) {
        const int64_t p = row * s.out_w + x, l = label[p];
        if (l == ignore_index || l < 0 || l >= s.c) {
          bad += l != ignore_index;
          loss[p] = 0;
          prob[p] = std::numeric_limits<acc_t>::infinity();
          lse[p] = 0;
          continue;
        }
        const acc_t shifted = z[l * s.out_w + x] - m[x], log_sum = std::log(sum[x]);
        loss[p] = (weight ? weight[l] : acc_t(1)) * (log_sum - shifted);
        prob[p] = fast_exp(shifted) / sum[x];
        lse[p] = m[x] + log_sum;
        ++valid;
      }
    }
    n_valid += valid;
    n_bad += bad;
  });
  stats[0] = n_valid.load();
  stats[1] = n_bad.load();
}

// Output rows grouped by their first source row: rows [first[r], first[r + 1]) have ty.i0 == r
// (ty.i0 never decreases with the output row).
template <typename acc_t>
std::vector<int64_t> rows_by_source(const std::vector<Tap<acc_t>>& ys, int64_t h) {
  std::vector<int64_t> first(h + 1, 0);
  for (const Tap<acc_t>& ty : ys) ++first[ty.i0 + 1];
  for (int64_t r = 0; r < h; ++r) first[r + 1] += first[r];
  return first;
}

// Gradient of one output row, all C planes: d[k * out_w + x] for the pixels with coef[x] != 0.
template <typename acc_t>
void row_logit_grad(const acc_t* z, const int64_t* label, const acc_t* lse, const acc_t* coef,
                    int64_t c, int64_t out_w, acc_t* d) {
  for (int64_t k = 0; k < c; ++k) {  // plane by plane: contiguous, vectorised exp
    const acc_t* zk = z + k * out_w;
    acc_t* dk = d + k * out_w;
    for (int64_t x = 0; x < out_w; ++x) {
      const acc_t g = coef[x] * fast_exp(zk[x] - lse[x]);
      dk[x] = coef[x] == acc_t(0) ? acc_t(0) : g;  // ignored and OHEM-dropped pixels: exactly 0
    }
  }
  for (int64_t x = 0; x < out_w; ++x) {
    if (coef[x] != acc_t(0)) d[label[x] * out_w + x] -= coef[x];
  }
}

// Parallel over (image, source row r): the task owns row r of `near` (weights ty.w0, and ty.w1
// when ty.i1 == r) and row r of `next` (weights ty.w1 meant for row r + 1), so it needs no atomics;
// grad = near + next shifted down one row.
template <typename scalar_t>
void backward_kernel(const scalar_t* in, const int64_t* label, const at::opmath_type<scalar_t>* weight,
                     const at::opmath_type<scalar_t>* lse, const bool* keep,
                     at::opmath_type<scalar_t> scale, at::opmath_type<scalar_t>* near,
                     at::opmath_type<scalar_t>* next, const Shape& s, int64_t ignore_index,
                     bool align_corners) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto ys = make_taps<acc_t>(s.h, s.out_h, align_corners);
  const auto xs = make_taps<acc_t>(s.w, s.out_w, align_corners);
  const auto first = rows_by_source(ys, s.h);
  const int64_t plane_size = s.h * s.w, image_size = s.c * plane_size;
  at::parallel_for(0, s.n * s.h, 1, [&](int64_t begin, int64_t end) {
    RowCache<scalar_t, acc_t> cache(s.c, s.h, s.w, xs);
    std::vector<acc_t> z(s.c * s.out_w), d(s.c * s.out_w), coef(s.out_w), row_grad(s.w);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t n = task / s.h, r = task % s.h;
      for (int64_t y = first[r]; y < first[r + 1]; ++y) {
        const Tap<acc_t>& ty = ys[y];
        const int64_t p0 = (n * s.out_h + y) * s.out_w;
        for (int64_t x = 0; x < s.out_w; ++x) {
          const int64_t l = label[p0 + x];
          const bool used = l != ignore_index && l >= 0 && l < s.c && (!keep || keep[p0 + x]);
          coef[x] = used ? scale * (weight ? weight[l] : acc_t(1)) : acc_t(0);
        }
        const auto rows = cache.rows(in + n * image_size, ty);
        for (int64_t i = 0; i < s.c * s.out_w; ++i) z[i] = blend(rows.first[i], rows.second[i], ty);
        row_logit_grad(z.data(), label + p0, lse + p0, coef.data(), s.c, s.out_w, d.data());
        for (int64_t k = 0; k < s.c; ++k) {
          std::fill(row_grad.begin(), row_grad.end(), acc_t(0));
          const acc_t* dk = d.data() + k * s.out_w;
          for (int64_t x = 0; x < s.out_w; ++x) {  // scatter along x, then along y
            row_grad[xs[x].i0] += dk[x] * xs[x].w0;
            row_grad[xs[x].i1] += dk[x] * xs[x].w1;
          }
          acc_t* g0 = near + n * image_size + k * plane_size + r * s.w;
          acc_t* g1 = (ty.i1 == r ? near : next) + n * image_size + k * plane_size + r * s.w;
          for (int64_t j = 0; j < s.w; ++j) g0[j] += row_grad[j] * ty.w0;
          for (int64_t j = 0; j < s.w; ++j) g1[j] += row_grad[j] * ty.w1;
        }
      }
    }
  });
  at::parallel_for(0, s.n * s.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      for (int64_t i = s.w; i < plane_size; ++i) near[nc * plane_size + i] += next[nc * plane_size + i - s.w];
    }
  });
}

Shape shape_of(const at::Tensor& logits, const at::Tensor& label) {
  return {logits.size(0), logits.size(1), logits.size(2), logits.size(3), label.size(1), label.size(2)};
}

}  // namespace

SegCEForward seg_ce_forward_cpu(const at::Tensor& logits, const at::Tensor& label,
                                const c10::optional<at::Tensor>& weight, int64_t ignore_index,
                                bool align_corners) {
  const Shape s = shape_of(logits, label);
  const auto opts = logits.options().dtype(seg_ce_acc_type(logits));
  at::Tensor loss = at::empty(label.sizes(), opts), prob = at::empty(label.sizes(), opts);
  at::Tensor lse = at::empty(label.sizes(), opts);
  at::Tensor stats = at::zeros({2}, label.options());
  if (label.numel() == 0) return {loss, prob, lse, stats};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "seg_ce_forward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    forward_kernel<scalar_t>(logits.data_ptr<scalar_t>(), label.data_ptr<int64_t>(),
                             weight.has_value() ? weight->data_ptr<acc_t>() : nullptr,
                             loss.data_ptr<acc_t>(), prob.data_ptr<acc_t>(), lse.data_ptr<acc_t>(),
                             s, ignore_index, align_corners, stats.data_ptr<int64_t>());
  });
  return {loss, prob, lse, stats};
}

at::Tensor seg_ce_backward_cpu(const at::Tensor& logits, const at::Tensor& label,
                               const c10::optional<at::Tensor>& weight, const at::Tensor& lse,
                               const c10::optional<at::Tensor>& keep, const at::Tensor& scale,
                               int64_t ignore_index, bool align_corners) {
  const Shape s = shape_of(logits, label);
  at::Tensor grad = at::zeros(logits.sizes(), logits.options().dtype(seg_ce_acc_type(logits)));
  if (label.numel() == 0) return grad;
  at::Tensor next = at::zeros_like(grad);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "seg_ce_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    backward_kernel<scalar_t>(logits.data_ptr<scalar_t>(), label.data_ptr<int64_t>(),
                              weight.has_value() ? weight->data_ptr<acc_t>() : nullptr,
                              lse.data_ptr<acc_t>(), keep.has_value() ? keep->data_ptr<bool>() : nullptr,
                              scale.item<acc_t>(), grad.data_ptr<acc_t>(), next.data_ptr<acc_t>(), s,
                              ignore_index, align_corners);
  });
  return grad;
}

}  // namespace mmcv_ext
