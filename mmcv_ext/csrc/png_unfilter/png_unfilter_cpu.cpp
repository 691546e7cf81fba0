// CPU kernel of png_unfilter. Each scanline is unfiltered straight into the output tensor, in the
// output's channel order: PNG filters predict every byte from the same channel of the pixel to
// the left (a), above (b) and above-left (c), so reordering or dropping channels commutes with
// unfiltering and the previous *output* row serves as the prior row (no separate RGB->BGR pass,
// alpha never touched). The filter type is switched on once per row, each filter has its own
// loop. Paeth, the slow one (a serial, data-dependent recurrence), uses SSE2 where available and
// unfilters two consecutive Paeth rows in one pass (row y+1 one pixel behind row y) to overlap
// their dependency chains.
#include <ATen/ops/empty.h>

#include <cstdint>
#include <cstring>
#include <vector>

#if (defined(__x86_64__) || defined(_M_X64)) && !defined(MMCV_EXT_PNG_NO_SIMD)  // SSE2: all x86-64
#include <emmintrin.h>
#define MMCV_EXT_PNG_SSE2 1
#endif

#include "png_unfilter.h"

namespace mmcv_ext {
namespace {

using RowFn = void (*)(const uint8_t* in, const uint8_t* prev, uint8_t* out, int64_t w);

// Output channel k of a pixel is input channel src(k): reversed for BGR (R,G,B[,A] -> B,G,R).
template <int IN, int OUT, bool BGR>
struct Layout {
  static_assert(BGR ? (OUT == 3 && IN >= 3) : OUT == IN, "unsupported channel layout");
  static constexpr int src(int k) { return BGR ? 2 - k : k; }
};

template <int IN, int OUT, bool BGR>
void row_none(const uint8_t* in, const uint8_t*, uint8_t* out, int64_t w) {
  using L = Layout<IN, OUT, BGR>;
  if constexpr (!BGR) {
    std::memcpy(out, in, static_cast<size_t>(w) * OUT);
  } else {
    for (int64_t x = 0; x < w; ++x)
      for (int k = 0; k < OUT; ++k) out[x * OUT + k] = in[x * IN + L::src(k)];
  }
}

template <int IN, int OUT, bool BGR>
void row_up(const uint8_t* in, const uint8_t* prev, uint8_t* out, int64_t w) {
  using L = Layout<IN, OUT, BGR>;
  if constexpr (!BGR) {  // one flat byte loop: vectorised
    const int64_t n = w * OUT;
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(in[i] + prev[i]);
  } else {
    for (int64_t x = 0; x < w; ++x)
      for (int k = 0; k < OUT; ++k)
        out[x * OUT + k] = static_cast<uint8_t>(in[x * IN + L::src(k)] + prev[x * OUT + k]);
  }
}

template <int IN, int OUT, bool BGR>
void row_sub(const uint8_t* in, const uint8_t*, uint8_t* out, int64_t w) {
  using L = Layout<IN, OUT, BGR>;
  uint8_t a[OUT] = {};
  for (int64_t x = 0; x < w; ++x)
    for (int k = 0; k < OUT; ++k)
      out[x * OUT + k] = a[k] = static_cast<uint8_t>(in[x * IN + L::src(k)] + a[k]);
}

template <int IN, int OUT, bool BGR>
void row_avg(const uint8_t* in, const uint8_t* prev, uint8_t* out, int64_t w) {
  using L = Layout<IN, OUT, BGR>;
  unsigned a[OUT] = {};
  for (int64_t x = 0; x < w; ++x)
    for (int k = 0; k < OUT; ++k) {
      a[k] = static_cast<uint8_t>(in[x * IN + L::src(k)] + ((a[k] + prev[x * OUT + k]) >> 1));
      out[x * OUT + k] = static_cast<uint8_t>(a[k]);
    }
}

// The Paeth predictor in stb_image's form, equal to the PNG spec's for all 2^24 (a, b, c):
// with thresh = 3c - (a + b), it is max(a, b) if thresh <= min(a, b), min(a, b) if
// thresh >= max(a, b), else c. Selects through masks, so that no branch depends on the data.
inline int select(bool cond, int x, int y) {
  const int mask = -static_cast<int>(cond);
  return (x & mask) | (y & ~mask);
}

inline int paeth(int a, int b, int c) {
  const int thresh = 3 * c - (a + b);
  const int lo = a < b ? a : b, hi = a < b ? b : a;
  return select(thresh <= lo, hi, select(hi <= thresh, lo, c));
}

template <int IN, int OUT, bool BGR>
void row_paeth(const uint8_t* in, const uint8_t* prev, uint8_t* out, int64_t w) {
  using L = Layout<IN, OUT, BGR>;
  int a[OUT] = {}, c[OUT] = {};  // a = c = 0 at x = 0 makes the predictor b, as the spec says
  for (int64_t x = 0; x < w; ++x)
    for (int k = 0; k < OUT; ++k) {
      const int b = prev[x * OUT + k];
      a[k] = static_cast<uint8_t>(in[x * IN + L::src(k)] + paeth(a[k], b, c[k]));
      out[x * OUT + k] = static_cast<uint8_t>(a[k]);
      c[k] = b;
    }
}

#ifdef MMCV_EXT_PNG_SSE2
// A pixel's OUT (3 or 4) samples in output order, packed little-endian into 32 bits.
template <int IN, int OUT, bool BGR>
inline uint32_t load_pixel(const uint8_t* p) {
  using L = Layout<IN, OUT, BGR>;
  uint32_t v = 0;
  for (int k = 0; k < OUT; ++k) v |= static_cast<uint32_t>(p[L::src(k)]) << (8 * k);
  return v;
}

template <int OUT>
inline void store_pixel(uint8_t* p, uint64_t v) {
  for (int k = 0; k < OUT; ++k) p[k] = static_cast<uint8_t>(v >> (8 * k));
}

// 8 bytes <-> 8 16-bit lanes.
inline __m128i widen(uint64_t v) {
  return _mm_unpacklo_epi8(_mm_cvtsi64_si128(static_cast<int64_t>(v)), _mm_setzero_si128());
}

inline uint64_t narrow(__m128i v) {
  return static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_packus_epi16(v, v)));
}

// One Paeth step on 16-bit lanes (one sample each, high bytes zero): the new a = d + predictor.
inline __m128i paeth_step(__m128i a, __m128i b, __m128i c, __m128i d) {
  const __m128i thresh = _mm_sub_epi16(_mm_add_epi16(c, _mm_add_epi16(c, c)), _mm_add_epi16(a, b));
  const __m128i lo = _mm_min_epi16(a, b), hi = _mm_max_epi16(a, b);
  const __m128i above = _mm_cmpgt_epi16(hi, thresh), inside = _mm_cmpgt_epi16(thresh, lo);
  const __m128i t = _mm_or_si128(_mm_and_si128(above, c), _mm_andnot_si128(above, lo));
  const __m128i pred = _mm_or_si128(_mm_and_si128(inside, t), _mm_andnot_si128(inside, hi));
  return _mm_add_epi8(pred, d);  // byte add: wraps mod 256, high bytes stay zero
}

template <int IN, int OUT, bool BGR>
void row_paeth_sse2(const uint8_t* in, const uint8_t* prev, uint8_t* out, int64_t w) {
  __m128i a = _mm_setzero_si128(), c = a;
  for (int64_t x = 0; x < w; ++x) {
    const __m128i b = widen(load_pixel<OUT, OUT, false>(prev + x * OUT));
    a = paeth_step(a, b, c, widen(load_pixel<IN, OUT, BGR>(in + x * IN)));
    store_pixel<OUT>(out + x * OUT, narrow(a));
    c = b;
  }
}

// Two consecutive Paeth rows: lanes 0-3 hold row U at pixel x, lanes 4-7 row L (the one below)
// at pixel x - 1, whose b and c are U's outputs of the two previous steps, kept in registers.
template <int IN, int OUT, bool BGR>
void rows_paeth_sse2(const uint8_t* in_u, const uint8_t* in_l, const uint8_t* prev, uint8_t* out_u,
                     uint8_t* out_l, int64_t w) {
  const uint64_t u0 = load_pixel<OUT, OUT, false>(prev);  // U at x = 0: a = c = 0, predictor b
  __m128i a = widen(u0), c = a;
  a = _mm_add_epi8(a, widen(load_pixel<IN, OUT, BGR>(in_u)));
  store_pixel<OUT>(out_u, narrow(a));
  c = _mm_move_epi64(c);  // L's a and c start at 0
  for (int64_t x = 1; x < w; ++x) {
    const __m128i b = _mm_or_si128(widen(load_pixel<OUT, OUT, false>(prev + x * OUT)),
                                   _mm_slli_si128(a, 8));  // L's b: U's previous output
    const uint64_t d = load_pixel<IN, OUT, BGR>(in_u + x * IN) |
                       static_cast<uint64_t>(load_pixel<IN, OUT, BGR>(in_l + (x - 1) * IN)) << 32;
    a = paeth_step(a, b, c, widen(d));
    c = b;
    const uint64_t v = narrow(a);
    store_pixel<OUT>(out_u + x * OUT, v);
    store_pixel<OUT>(out_l + (x - 1) * OUT, v >> 32);
  }
  using L = Layout<IN, OUT, BGR>;
  const int64_t x = w - 1;  // L's last pixel
  for (int k = 0; k < OUT; ++k) {
    const int left = x ? out_l[(x - 1) * OUT + k] : 0, up_left = x ? out_u[(x - 1) * OUT + k] : 0;
    out_l[x * OUT + k] = static_cast<uint8_t>(in_l[x * IN + L::src(k)] +
                                              paeth(left, out_u[x * OUT + k], up_left));
  }
}
#endif  // MMCV_EXT_PNG_SSE2

template <int IN, int OUT, bool BGR>
void unfilter_image(const uint8_t* raw, int64_t rows, int64_t w, uint8_t* out) {
#ifdef MMCV_EXT_PNG_SSE2
  constexpr bool kSimd = OUT >= 3;
  constexpr RowFn kPaeth = kSimd ? row_paeth_sse2<IN, OUT, BGR> : row_paeth<IN, OUT, BGR>;
#else
  constexpr RowFn kPaeth = row_paeth<IN, OUT, BGR>;
#endif
  static constexpr RowFn kFilters[5] = {row_none<IN, OUT, BGR>, row_sub<IN, OUT, BGR>,
                                        row_up<IN, OUT, BGR>, row_avg<IN, OUT, BGR>, kPaeth};
  const int64_t stride = 1 + w * IN, out_row = w * OUT;
  const std::vector<uint8_t> zeros(static_cast<size_t>(out_row), 0);  // the row above row 0
  const uint8_t* prev = zeros.data();
  for (int64_t y = 0; y < rows; ++y, raw += stride, out += out_row) {
    const unsigned type = raw[0];
    TORCH_CHECK(type < 5, "png_unfilter: row ", y, " has invalid filter type ", type,
                " (PNG filter types are 0-4)");
#ifdef MMCV_EXT_PNG_SSE2
    if (kSimd && type == 4 && y + 1 < rows && raw[stride] == 4) {
      rows_paeth_sse2<IN, OUT, BGR>(raw + 1, raw + stride + 1, prev, out, out + out_row, w);
      ++y, raw += stride, out += out_row;
      prev = out;
      continue;
    }
#endif
    kFilters[type](raw + 1, prev, out, w);
    prev = out;
  }
}

}  // namespace

at::Tensor png_unfilter_cpu(const at::Tensor& raw, int64_t rows, int64_t width, int64_t channels,
                            bool bgr) {
  at::Tensor out = at::empty({rows, width, bgr ? 3 : channels}, raw.options());
  const uint8_t* src = raw.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  switch (channels * 2 + (bgr ? 1 : 0)) {
    case 2: unfilter_image<1, 1, false>(src, rows, width, dst); break;
    case 4: unfilter_image<2, 2, false>(src, rows, width, dst); break;
    case 6: unfilter_image<3, 3, false>(src, rows, width, dst); break;
    case 7: unfilter_image<3, 3, true>(src, rows, width, dst); break;
    case 8: unfilter_image<4, 4, false>(src, rows, width, dst); break;
    case 9: unfilter_image<4, 3, true>(src, rows, width, dst); break;
    default: TORCH_CHECK(false, "png_unfilter: unsupported channels ", channels, " with bgr=", bgr);
  }
  return out;
}

}  // namespace mmcv_ext
