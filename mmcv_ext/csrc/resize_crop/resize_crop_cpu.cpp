// CPU kernel of resize_crop: tables of source offsets and coefficients for the window's columns
// and rows, a horizontal pass per needed source row (cached: consecutive output rows share
// source rows), then the vertical blend with OpenCV's rounding.
#include <ATen/ops/empty.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "resize_crop.h"

namespace mmcv_ext {
namespace {

constexpr int kCoefBits = 11;
constexpr int kCoefScale = 1 << kCoefBits;

struct Tap {
  int64_t offset;  // first source index (row, or byte offset of the column's first channel)
  int64_t next;    // second source index (clamped to the image)
  int16_t w0, w1;  // fixed-point weights
};

inline int16_t fixed_coef(float value) {
  return static_cast<int16_t>(std::lrint(value * static_cast<float>(kCoefScale)));
}

// OpenCV's source coordinate of output index d, split into (floor, fraction) with its clamping.
// Columns clamp the fraction at both borders; rows keep it and clamp only the row indices.
Tap make_tap(int64_t d, double scale, int64_t src_size, bool clamp_fraction) {
  float f = static_cast<float>((d + 0.5) * scale - 0.5);
  int64_t s = static_cast<int64_t>(std::floor(f));
  f -= static_cast<float>(s);
  if (clamp_fraction) {
    if (s < 0) f = 0.f, s = 0;
    if (s >= src_size - 1) f = 0.f, s = src_size - 1;
  }
  Tap tap;
  tap.offset = std::clamp<int64_t>(s, 0, src_size - 1);
  tap.next = std::clamp<int64_t>(s + 1, 0, src_size - 1);
  tap.w0 = fixed_coef(1.f - f);
  tap.w1 = fixed_coef(f);
  return tap;
}

template <int C>
void horizontal_fixed(const uint8_t* row, const Tap* cols, int64_t width, int32_t* out) {
  for (int64_t i = 0; i < width; ++i) {
    const uint8_t* a = row + cols[i].offset * C;
    const uint8_t* b = row + cols[i].next * C;
    const int32_t w0 = cols[i].w0, w1 = cols[i].w1;
    for (int c = 0; c < C; ++c) out[i * C + c] = a[c] * w0 + b[c] * w1;
  }
}

// One source row resized horizontally: fixed-point sums S = s[x] * w0 + s[x + 1] * w1 per channel.
void horizontal(const uint8_t* row, const std::vector<Tap>& cols, int64_t channels, int32_t* out) {
  const int64_t width = static_cast<int64_t>(cols.size());
  switch (channels) {
    case 1: return horizontal_fixed<1>(row, cols.data(), width, out);
    case 3: return horizontal_fixed<3>(row, cols.data(), width, out);
    case 4: return horizontal_fixed<4>(row, cols.data(), width, out);
    default:
      for (int64_t i = 0; i < width; ++i) {
        const uint8_t* a = row + cols[i].offset * channels;
        const uint8_t* b = row + cols[i].next * channels;
        for (int64_t c = 0; c < channels; ++c) out[i * channels + c] = a[c] * cols[i].w0 + b[c] * cols[i].w1;
      }
  }
}

inline uint8_t saturate_u8(int32_t v) { return static_cast<uint8_t>(std::clamp(v, 0, 255)); }

// OpenCV's rounding of the vertical blend (that of its vector code, which OpenCV 5 uses for every
// byte): ((S0 >> 4) * b0 >> 16) + ((S1 >> 4) * b1 >> 16), then (v + 2) >> 2, saturated. S <= 255 *
// 2049, so S >> 4 fits the int16 lanes OpenCV packs it into and int32 arithmetic is the same.
void vertical(const int32_t* __restrict s0, const int32_t* __restrict s1, int32_t b0, int32_t b1, int64_t n,
              uint8_t* __restrict out) {
  for (int64_t i = 0; i < n; ++i) out[i] = saturate_u8((((s0[i] >> 4) * b0 >> 16) + ((s1[i] >> 4) * b1 >> 16) + 2) >> 2);
}

}  // namespace

int64_t resize_crop_rows_needed(int64_t src_h, int64_t dst_h, int64_t y1) {
  if (y1 <= 0) return 0;
  const double scale = 1.0 / (static_cast<double>(dst_h) / static_cast<double>(src_h));
  return make_tap(y1 - 1, scale, src_h, false).next + 1;
}

at::Tensor resize_crop(const at::Tensor& src, int64_t src_h, int64_t dst_h, int64_t dst_w,
                       int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  TORCH_CHECK(src.device().is_cpu() && src.scalar_type() == at::kByte && src.dim() == 3,
              "resize_crop: src must be a CPU uint8 tensor [rows, width, channels]");
  MMCV_EXT_CHECK_CONTIGUOUS(src);
  const int64_t src_w = src.size(1), channels = src.size(2);
  TORCH_CHECK(src_h > 0 && src_w > 0 && dst_h > 0 && dst_w > 0, "resize_crop: empty image or size");
  TORCH_CHECK(0 <= y0 && y0 < y1 && y1 <= dst_h && 0 <= x0 && x0 < x1 && x1 <= dst_w,
              "resize_crop: the window [", y0, ", ", y1, ") x [", x0, ", ", x1,
              ") does not lie in the ", dst_h, "x", dst_w, " output");
  TORCH_CHECK(src.size(0) >= resize_crop_rows_needed(src_h, dst_h, y1) && src.size(0) <= src_h,
              "resize_crop: src holds ", src.size(0), " rows; the window needs ",
              resize_crop_rows_needed(src_h, dst_h, y1), " of the ", src_h);
  const double scale_x = 1.0 / (static_cast<double>(dst_w) / static_cast<double>(src_w));
  const double scale_y = 1.0 / (static_cast<double>(dst_h) / static_cast<double>(src_h));
  std::vector<Tap> cols, rows;
  for (int64_t x = x0; x < x1; ++x) cols.push_back(make_tap(x, scale_x, src_w, true));
  for (int64_t y = y0; y < y1; ++y) rows.push_back(make_tap(y, scale_y, src_h, false));

  const int64_t out_w = x1 - x0, row_len = out_w * channels;
  at::Tensor out = at::empty({y1 - y0, out_w, channels}, src.options());
  const uint8_t* in = src.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  const int64_t stride = src_w * channels;

  // two horizontally resized source rows; consecutive output rows mostly share them
  std::vector<int32_t> buffers[2] = {std::vector<int32_t>(row_len), std::vector<int32_t>(row_len)};
  int64_t cached[2] = {-1, -1};
  auto source_row = [&](int64_t r, int64_t keep) -> const int32_t* {
    for (int k = 0; k < 2; ++k)
      if (cached[k] == r) return buffers[k].data();
    const int slot = cached[0] == keep ? 1 : 0;  // evict the slot not holding `keep`
    horizontal(in + r * stride, cols, channels, buffers[slot].data());
    cached[slot] = r;
    return buffers[slot].data();
  };
  for (int64_t i = 0; i < y1 - y0; ++i) {
    const Tap& t = rows[i];
    const int32_t* s0 = source_row(t.offset, t.next);
    const int32_t* s1 = source_row(t.next, t.offset);
    vertical(s0, s1, t.w0, t.w1, row_len, dst + i * row_len);
  }
  return out;
}

}  // namespace mmcv_ext
