// resize_crop: the window [y0, y1) x [x0, x1) of a uint8 HWC image bilinearly resized to
// dst_h x dst_w, computed without resizing the rest of it (the data pipeline's Resize followed by
// RandomCrop). The coordinates and the fixed-point arithmetic are OpenCV's cv::resize(INTER_LINEAR)
// for 8-bit images: half-pixel centres, 11-bit coefficients, replicated borders and the rounding of
// its vectorised vertical pass, so the window equals the crop of OpenCV 5's cv2.resize output
// (OpenCV 4 rounds the last few bytes of each row with its scalar code: differences of one level).
// src: contiguous uint8 [rows, src_w, C] holding at least the first rows the window needs of an
// image that is src_h rows high (the rest may be missing: a partially decoded image).
#pragma once

#include "../common/checks.h"

namespace mmcv_ext {

at::Tensor resize_crop(const at::Tensor& src, int64_t src_h, int64_t dst_h, int64_t dst_w,
                       int64_t y0, int64_t y1, int64_t x0, int64_t x1);

// The number of source rows (from the top) that rows [0, y1) of the resize need.
int64_t resize_crop_rows_needed(int64_t src_h, int64_t dst_h, int64_t y1);

}  // namespace mmcv_ext
