#include "daemon/network/dns_message.h"

namespace vessel::daemon {

namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// The question's name at `pos`: labels only (a compression pointer has nothing to point at yet).
Result<std::string> read_name(std::span<const uint8_t> m, size_t& pos) {
  std::string name;
  size_t wire = 0;
  for (;;) {
    if (pos >= m.size()) return fail(EINVAL, "dns: the name runs past the message");
    uint8_t len = m[pos++];
    ++wire;
    if (len == 0) break;
    if (len > 63) return fail(EINVAL, "dns: a label of length byte {:#x} (compression or reserved) in the question", len);
    if (pos + len > m.size()) return fail(EINVAL, "dns: a label runs past the message");
    wire += len;
    if (wire > 255) return fail(EINVAL, "dns: the name is longer than 255 bytes");
    if (!name.empty()) name += '.';
    for (size_t i = 0; i < len; ++i) {
      char c = static_cast<char>(m[pos + i]);
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      name += c;
    }
    pos += len;
  }
  return name;
}

void header(std::vector<uint8_t>& out, uint16_t id, bool rd, DnsRcode rcode, uint16_t qd, uint16_t an) {
  put16(out, id);
  // QR=1, opcode 0, AA=1, TC=0, RD as asked; RA=0 (vesseld answers its own names only).
  out.push_back(static_cast<uint8_t>(0x80 | 0x04 | (rd ? 0x01 : 0)));
  out.push_back(static_cast<uint8_t>(rcode));
  put16(out, qd);
  put16(out, an);
  put16(out, 0);
  put16(out, 0);
}

}  // namespace

Result<DnsQuery> parse_dns_query(std::span<const uint8_t> m, uint16_t* id) {
  if (m.size() < 12) return fail(EINVAL, "dns: {} bytes is shorter than a header", m.size());
  if (id) *id = be16(m.data());
  if (m.size() > kDnsMaxMessage) return fail(EINVAL, "dns: {} bytes is over {}", m.size(), kDnsMaxMessage);
  DnsQuery q;
  q.id = be16(m.data());
  uint8_t flags = m[2];
  if (flags & 0x80) return fail(EINVAL, "dns: a response, not a query");
  if ((flags >> 3) & 0x0f) return fail(ENOTSUP, "dns: opcode {} is not a standard query", (flags >> 3) & 0x0f);
  q.recursion_desired = flags & 0x01;
  uint16_t qd = be16(m.data() + 4), an = be16(m.data() + 6), ns = be16(m.data() + 8), ar = be16(m.data() + 10);
  if (qd != 1) return fail(EINVAL, "dns: {} questions (exactly one is answered)", qd);
  if (an != 0 || ns != 0 || ar > 1) return fail(EINVAL, "dns: a query with answer or authority records");
  size_t pos = 12;
  q.name = TRY(read_name(m, pos));
  if (pos + 4 > m.size()) return fail(EINVAL, "dns: the question's type and class are missing");
  q.qtype = be16(m.data() + pos);
  q.qclass = be16(m.data() + pos + 2);
  pos += 4;
  q.question.assign(m.begin() + 12, m.begin() + static_cast<long>(pos));
  // At most an EDNS OPT record may follow (ar == 1); it is not read, and not echoed.
  if (ar == 0 && pos != m.size()) return fail(EINVAL, "dns: {} bytes after the question", m.size() - pos);
  return q;
}

std::vector<uint8_t> dns_answer(const DnsQuery& q, DnsRcode rcode, std::optional<Ipv4> address, uint32_t ttl) {
  std::vector<uint8_t> out;
  out.reserve(12 + q.question.size() + 16);
  header(out, q.id, q.recursion_desired, rcode, 1, address ? 1 : 0);
  out.insert(out.end(), q.question.begin(), q.question.end());
  if (address) {
    put16(out, 0xc00c);  // the name: a pointer to the question's
    put16(out, kDnsTypeA);
    put16(out, kDnsClassIn);
    put16(out, static_cast<uint16_t>(ttl >> 16));
    put16(out, static_cast<uint16_t>(ttl));
    put16(out, 4);
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(address->value >> shift));
  }
  return out;
}

std::vector<uint8_t> dns_error(uint16_t id, DnsRcode rcode) {
  std::vector<uint8_t> out;
  header(out, id, false, rcode, 0, 0);
  return out;
}

}  // namespace vessel::daemon
