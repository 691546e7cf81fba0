// png_unfilter: undo the per-scanline filters of 8-bit, non-interlaced PNG image data. `raw` is
// the inflated IDAT stream (1-D uint8, at least `rows` scanlines of 1 filter-type byte +
// width*channels bytes); returns uint8 [rows, width, 3] in BGR order (alpha dropped, as
// cv2.IMREAD_COLOR) when `bgr` (channels 3 or 4), else [rows, width, channels] as stored.
// Single-threaded by design: it runs inside data-loader workers.
#pragma once

#include <cstdint>
#include <limits>

#include "../common/checks.h"

namespace mmcv_ext {

at::Tensor png_unfilter_cpu(const at::Tensor& raw, int64_t rows, int64_t width, int64_t channels,
                            bool bgr);

inline at::Tensor png_unfilter(const at::Tensor& raw, int64_t rows, int64_t width,
                               int64_t channels, bool bgr) {
  TORCH_CHECK(raw.dim() == 1 && raw.scalar_type() == at::kByte,
              "png_unfilter: raw must be a 1-D uint8 tensor, got ", raw.dim(), "-D ",
              raw.scalar_type());
  TORCH_CHECK(raw.device().is_cpu(), "png_unfilter: raw must be a CPU tensor");
  MMCV_EXT_CHECK_CONTIGUOUS(raw);
  TORCH_CHECK(channels >= 1 && channels <= 4, "png_unfilter: channels must be 1-4, got ", channels);
  TORCH_CHECK(!bgr || channels >= 3, "png_unfilter: bgr needs 3 or 4 channels, got ", channels);
  TORCH_CHECK(rows >= 0, "png_unfilter: rows must be >= 0, got ", rows);
  TORCH_CHECK(width > 0 && width <= (std::numeric_limits<int32_t>::max() - 1) / channels,
              "png_unfilter: width must be in [1, 2^31 / channels), got ", width);
  const int64_t stride = 1 + width * channels;
  TORCH_CHECK(rows <= raw.numel() / stride, "png_unfilter: raw holds ", raw.numel() / stride,
              " scanlines of ", stride, " bytes, ", rows, " needed");
  return png_unfilter_cpu(raw, rows, width, channels, bgr);
}

}  // namespace mmcv_ext
