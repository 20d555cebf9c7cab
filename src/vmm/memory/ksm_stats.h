// What KSM shares of this process's memory (docs/vmm/memory.md): /proc/self/ksm_stat, opened
// while the VM is built and read again for each metrics request (the VMM thread's seccomp filter
// lets it lseek and read an open file, not open one).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::vmm {

struct KsmCounts {
  uint64_t merging_pages = 0;   // this process's pages that share a KSM page (ksm_merging_pages)
  uint64_t zero_pages = 0;      // merged with the zero page (use_zero_pages)
  uint64_t rmap_items = 0;
  // Bytes saved minus KSM's bookkeeping (may be negative); Linux 6.4+.
  std::optional<int64_t> process_profit;
};

// Parses ksm_stat's "name value" lines; counts the kernel lacks stay 0. Pure, for tests.
KsmCounts parse_ksm_stat(std::string_view text);

class KsmStats {
 public:
  // /proc/self/ksm_merging_pages (Linux 5.19+) and, where present, /proc/self/ksm_stat (6.1+:
  // its lines grew over releases; 6.1's has only ksm_rmap_items); nullopt without the first.
  static std::optional<KsmStats> open();
  Result<KsmCounts> read() const;

 private:
  KsmStats(Fd merging, Fd stat) : merging_(std::move(merging)), stat_(std::move(stat)) {}
  Fd merging_, stat_;
};

}  // namespace vessel::vmm
