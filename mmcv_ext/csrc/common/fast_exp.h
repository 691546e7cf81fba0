// exp for the softmax kernels' arguments (<= 0 up to rounding): a branch-free float version that
// compilers vectorise (Cephes' range reduction and degree-6 polynomial, ~1 ulp on [-87, 0]),
// std::exp for double. Arguments below -87.3 give 0 (the float result would be denormal), NaN
// stays NaN, and the upper end is clamped at 88 (the arguments here never come close).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace mmcv_ext {

inline float fast_exp(float x) {
  const bool tiny = x < -87.3f;
  x = x > 88.f ? 88.f : x;
  x = x < -87.3f ? -87.3f : x;  // NaN passes both comparisons unchanged
  // n = round(x / ln2) by the 1.5 * 2^23 trick (round to nearest, no libm call)
  const float shifted = x * 1.44269504088896341f + 12582912.f;
  const float n = shifted - 12582912.f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 127]
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return tiny ? 0.f : p * scale;
}

inline double fast_exp(double x) { return std::exp(x); }

}  // namespace mmcv_ext
