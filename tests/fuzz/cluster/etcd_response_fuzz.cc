// Fuzzes the parsers of etcd's gateway answers (src/cluster/etcd_messages.h) and of the node
// records other nodes write (node_record.h, instance_record.h): vesseld reads them from the network. The first byte
// picks the parser; the rest is the answer. Watch streams go through the line splitter in chunks
// cut by the input itself. Nothing may crash or throw, and a
// parsed answer must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cluster/etcd_messages.h"
#include "cluster/instance_record.h"
#include "cluster/node_record.h"

using namespace vessel;
using namespace vessel::cluster::etcd;

namespace {

void parse_one(uint8_t which, std::string_view text) {
  if (which % 9 == 8) {  // a node's or an instance's record, as another node wrote it
    if (auto info = cluster::parse_node_info(text)) (void)json::dump(cluster::node_info_json(*info));
    if (auto record = cluster::parse_instance_record(text)) {
      if (record->name.empty() || record->generation < 0) std::abort();
      // What a node writes back (a stop, a move) is read again by every node.
      auto again = cluster::parse_instance_record(json::dump(cluster::instance_record_json(*record)));
      if (!again || again->stopped != record->stopped || again->moving_to != record->moving_to || again->stop_timeout_s != record->stop_timeout_s || again->placement.constraints != record->placement.constraints)
        std::abort();
    }
    return;
  }
  auto j = json::parse(text, 1 << 20);
  if (!j) return;
  switch (which % 9) {
    case 0:
      if (auto r = parse_range(*j)) {
        for (const auto& kv : r->kvs) (void)kv.key.size();
      }
      break;
    case 1:
      if (auto t = parse_txn(*j)) {
        for (const auto& r : t->responses)
          if (r.kind != TxnResponse::Kind::Range && !r.range.kvs.empty()) std::abort();
      }
      break;
    case 2:
      if (auto g = parse_lease_grant(*j); g && (g->id == 0 || g->ttl <= 0)) std::abort();
      break;
    case 3: (void)parse_keepalive(*j); break;
    case 4: (void)parse_watch(*j); break;
    case 5:
      if (auto c = parse_campaign(*j); c && c->key.empty()) std::abort();
      break;
    case 6: (void)parse_leader(*j); break;
    default: (void)parse_delete(*j); (void)parse_put(*j); break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (data[0] < 200) {
    parse_one(data[0], in);
    (void)error_of(400 + data[1], in);
    return 0;
  }
  // A watch stream, cut into chunks of 1..64 bytes.
  LineSplitter lines(4096);
  size_t chunk = 1 + data[1] % 64;
  for (size_t pos = 0; pos < in.size(); pos += chunk) {
    if (!lines.append(in.substr(pos, chunk))) return 0;
    while (auto line = lines.next()) {
      if (line->find('\n') != std::string::npos) std::abort();
      if (auto j = json::parse(*line)) (void)parse_watch(*j);
    }
  }
  return 0;
}
