// Fuzz target: what `vessel bench overhead` reads back from vessel-workload, which in a VM is the
// guest's output (hostile). What parses must be a positive, finite amount of work and time; two
// samples of it go through the report (medians, P, JSON, table) without a crash.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/overhead_report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vessel::cli::overhead;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto o = parse_outcome(text, "cpu");
  if (!o) return 0;
  if (!(o->seconds > 0) || !std::isfinite(o->seconds) || !(o->work > 0) || o->workload != "cpu")
    __builtin_trap();
  Report r;
  r.runs = 1;
  r.places = {"native", "vm"};
  WorkloadFigures w;
  if (!add_sample(w, "native", *o, 1) || !add_sample(w, "vm", *o, 1)) __builtin_trap();
  auto p = efficiency(w, "vm");
  if (!p || std::fabs(*p - 1) > 1e-12) __builtin_trap();
  r.workloads.push_back(w);
  (void)to_json(r);
  (void)to_table(r);
  return 0;
}
