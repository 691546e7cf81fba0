// CUDA kernel of confusion_matrix: per-block histograms in shared memory (when C*C+1 counters
// fit), merged into the global int64 histogram with one atomic per non-empty bin.
#include <ATen/ops/zeros.h>

#include "../common/cuda_utils.cuh"
#include "confusion_matrix.h"

namespace mmcv_ext {
namespace {

constexpr int64_t kSharedBytes = 32 * 1024;

template <typename pred_t, typename label_t>
__global__ void histogram_kernel(const pred_t* __restrict__ pred, const label_t* __restrict__ label,
                                 int64_t size, int64_t c, int64_t ignore_index,
                                 unsigned long long* __restrict__ out, bool use_shared) {
  extern __shared__ unsigned int local[];
  const int64_t bins = c * c + 1;
  if (use_shared) {
    for (int64_t b = threadIdx.x; b < bins; b += blockDim.x) local[b] = 0;
    __syncthreads();
  }
  MMCV_EXT_GRID_STRIDE_LOOP(i, size) {
    const int64_t l = static_cast<int64_t>(label[i]), p = static_cast<int64_t>(pred[i]);
    if (l == ignore_index || l < 0 || l >= c) continue;
    const int64_t bin = (p < 0 || p >= c) ? c * c : l * c + p;
    if (use_shared) {
      atomicAdd(local + bin, 1u);
    } else {
      atomicAdd(out + bin, 1ull);
    }
  }
  if (use_shared) {
    __syncthreads();
    for (int64_t b = threadIdx.x; b < bins; b += blockDim.x) {
      if (local[b]) atomicAdd(out + b, static_cast<unsigned long long>(local[b]));
    }
  }
}

}  // namespace

at::Tensor confusion_matrix_cuda(const at::Tensor& pred, const at::Tensor& label,
                                 int64_t num_classes, int64_t ignore_index) {
  const c10::cuda::CUDAGuard guard(pred.device());
  const int64_t bins = num_classes * num_classes + 1;
  at::Tensor out = at::zeros({bins}, pred.options().dtype(at::kLong));
  const int64_t size = pred.numel();
  if (size == 0) return out;
  const bool use_shared = bins * static_cast<int64_t>(sizeof(unsigned int)) <= kSharedBytes;
  const size_t shared = use_shared ? bins * sizeof(unsigned int) : 0;
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  MMCV_EXT_DISPATCH_INDEX_TYPE(pred.scalar_type(), "confusion_matrix", pred_t, [&] {
    MMCV_EXT_DISPATCH_INDEX_TYPE(label.scalar_type(), "confusion_matrix", label_t, [&] {
      histogram_kernel<pred_t, label_t><<<blocks_for(size), kThreads, shared, stream>>>(
          pred.data_ptr<pred_t>(), label.data_ptr<label_t>(), size, num_classes, ignore_index,
          reinterpret_cast<unsigned long long*>(out.data_ptr<int64_t>()), use_shared);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

}  // namespace mmcv_ext
