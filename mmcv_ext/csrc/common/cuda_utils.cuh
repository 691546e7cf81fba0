// Helpers shared by the CUDA kernels.
#pragma once

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>
#include <cstdint>

namespace mmcv_ext {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over `total` items.
inline unsigned int blocks_for(int64_t total) {
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min<int64_t>(blocks, 1 << 16)));
}

// Adds every thread's `value` to `*counter`, with one atomic per warp.
__device__ __forceinline__ void warp_add(int64_t* counter, int64_t value) {
  for (int offset = warpSize / 2; offset > 0; offset /= 2) {
    value += __shfl_down_sync(0xffffffffu, value, offset);
  }
  if ((threadIdx.x & (warpSize - 1)) == 0 && value != 0) {
    atomicAdd(reinterpret_cast<unsigned long long*>(counter), static_cast<unsigned long long>(value));
  }
}

}  // namespace mmcv_ext

#define MMCV_EXT_GRID_STRIDE_LOOP(i, total)                                                \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (total); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)
