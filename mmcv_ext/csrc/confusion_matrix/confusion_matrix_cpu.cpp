// CPU kernel of confusion_matrix: each parallel chunk fills its own histogram, merged at the end.
#include <ATen/ops/zeros.h>
#include <ATen/Parallel.h>

#include <mutex>
#include <vector>

#include "confusion_matrix.h"

namespace mmcv_ext {
namespace {

template <typename pred_t, typename label_t>
void histogram_kernel(const pred_t* pred, const label_t* label, int64_t size, int64_t c,
                      int64_t ignore_index, int64_t* out) {
  std::mutex merge;
  at::parallel_for(0, size, 1 << 16, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> local(c * c + 1, 0);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t l = static_cast<int64_t>(label[i]), p = static_cast<int64_t>(pred[i]);
      if (l == ignore_index || l < 0 || l >= c) continue;
      if (p < 0 || p >= c) {
        ++local[c * c];
        continue;
      }
      ++local[l * c + p];
    }
    std::lock_guard<std::mutex> lock(merge);
    for (int64_t k = 0; k <= c * c; ++k) out[k] += local[k];
  });
}

}  // namespace

at::Tensor confusion_matrix_cpu(const at::Tensor& pred, const at::Tensor& label,
                                int64_t num_classes, int64_t ignore_index) {
  at::Tensor out = at::zeros({num_classes * num_classes + 1}, pred.options().dtype(at::kLong));
  MMCV_EXT_DISPATCH_INDEX_TYPE(pred.scalar_type(), "confusion_matrix", pred_t, [&] {
    MMCV_EXT_DISPATCH_INDEX_TYPE(label.scalar_type(), "confusion_matrix", label_t, [&] {
      histogram_kernel<pred_t, label_t>(pred.data_ptr<pred_t>(), label.data_ptr<label_t>(),
                                        pred.numel(), num_classes, ignore_index,
                                        out.data_ptr<int64_t>());
    });
  });
  return out;
}

}  // namespace mmcv_ext
