// Fuzzes what `vessel logs` parses: the times a client sends (?since, ?until) and the stamped log
// a guest's output becomes (daemon/api/log_view.h), fed in pieces of every size. The first byte
// picks the query and the piece size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/log_stamp.h"
#include "daemon/api/log_view.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)vessel::parse_time_point(text);
  (void)vessel::parse_log_stamp(text);
  vessel::daemon::LogQuery q;
  q.timestamps = data[0] & 1;
  if (data[0] & 2) q.since_ns = 1764963000'000000000;
  if (data[0] & 4) q.until_ns = 1764963000'500000000;
  size_t piece = (data[0] >> 3) + 1;
  vessel::daemon::LogLineFilter filter(q);
  std::string out;
  for (size_t at = 0; at < text.size(); at += piece) filter.feed(text.substr(at, piece), out);
  filter.finish(out);
  if (out.size() > text.size()) std::abort();  // it only ever cuts
  if (q.timestamps && !q.since_ns && !q.until_ns && out != text) std::abort();  // nothing to cut
  (void)vessel::daemon::last_lines(out, data[0]);
  return 0;
}
