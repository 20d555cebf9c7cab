#include "vmm/snapshot/net_state.h"

namespace vessel::vmm::snapshot {
namespace {

Result<bool> get_flag(ByteReader& r) {
  uint8_t b = TRY(r.get<uint8_t>());
  if (b > 1) return fail(EINVAL, "a flag holds {} (0 or 1)", b);
  return b == 1;
}

void encode_level(const BucketLevel& l, ByteWriter& w) {
  w.put<uint8_t>(l.present ? 1 : 0);
  w.put(l.budget);
  w.put(l.burst);
}

Result<BucketLevel> decode_level(ByteReader& r, const std::string& iface) {
  BucketLevel l;
  l.present = TRY(get_flag(r));
  l.budget = TRY(r.get<uint64_t>());
  l.burst = TRY(r.get<uint64_t>());
  if (!l.present && (l.budget || l.burst))
    return fail(EINVAL, "net {}: a level for an absent rate limiter bucket", iface);
  return l;
}

}  // namespace

void encode_net(const NetState& s, ByteWriter& w) {
  w.put(s.mmio_base);
  w.put_string(s.iface_id);
  w.put_string(s.host_dev_name);
  w.put(s.mac);
  w.put<uint8_t>(s.vhost ? 1 : 0);
  w.put_string(s.rx_frame);
  w.put<uint8_t>(s.rx_paid ? 1 : 0);
  for (const auto* l : {&s.rx_bandwidth, &s.rx_ops, &s.tx_bandwidth, &s.tx_ops})
    encode_level(*l, w);
}

Result<NetState> decode_net(ByteReader& r) {
  NetState s;
  s.mmio_base = TRY(r.get<uint64_t>());
  s.iface_id = TRY(r.get_string(kMaxNetName));
  s.host_dev_name = TRY(r.get_string(kMaxNetName));
  if (s.iface_id.empty() || s.host_dev_name.empty())
    return fail(EINVAL, "net: an empty iface_id or host_dev_name");
  s.mac = TRY((r.get<std::array<uint8_t, 6>>()));
  if (s.mac[0] & 1)
    return fail(EINVAL, "net {}: MAC {:02x}:... is a multicast address", s.iface_id, s.mac[0]);
  s.vhost = TRY(get_flag(r));
  s.rx_frame = TRY(r.get_string(kMaxNetFrame));
  if (!s.rx_frame.empty() && s.rx_frame.size() < kMinNetFrame)
    return fail(EINVAL, "net {}: a pending frame of {} bytes (at least {})", s.iface_id,
                s.rx_frame.size(), kMinNetFrame);
  s.rx_paid = TRY(get_flag(r));
  if (s.rx_paid && s.rx_frame.empty())
    return fail(EINVAL, "net {}: rx_paid without a pending frame", s.iface_id);
  if (s.vhost && !s.rx_frame.empty())
    return fail(EINVAL, "net {}: a pending frame on a vhost-net device", s.iface_id);
  for (auto* l : {&s.rx_bandwidth, &s.rx_ops, &s.tx_bandwidth, &s.tx_ops})
    *l = TRY(decode_level(r, s.iface_id));
  return s;
}

}  // namespace vessel::vmm::snapshot
