// DNS messages as vesseld's embedded server sees them (RFC 1035): any container on a network
// can send one, so a query is parsed whole and bounded (one question, labels of 1..63 bytes, a
// name of at most 255, no compression in the question, nothing after it but an EDNS record)
// before anything is answered; answers are built from the parsed query only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/network/cidr.h"

namespace vessel::daemon {

inline constexpr size_t kDnsMaxMessage = 512;  // classic UDP; larger queries are refused
inline constexpr uint16_t kDnsTypeA = 1;
inline constexpr uint16_t kDnsTypeAAAA = 28;
inline constexpr uint16_t kDnsClassIn = 1;

enum class DnsRcode : uint8_t { NoError = 0, FormErr = 1, ServFail = 2, NxDomain = 3, NotImp = 4, Refused = 5 };

struct DnsQuery {
  uint16_t id = 0;
  bool recursion_desired = false;
  std::string name;       // lower case, labels joined by '.', no trailing dot ("" is the root)
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  std::vector<uint8_t> question;  // the question section's bytes, echoed in the answer
};

// EINVAL for anything but a standard query (QR=0, opcode 0) with exactly one question.
// `id` is set whenever the header was readable, so that a FORMERR can still be answered.
Result<DnsQuery> parse_dns_query(std::span<const uint8_t> message, uint16_t* id = nullptr);

// The answer to `q`: rcode, and an A record with `address` when given (TTL `ttl` seconds).
std::vector<uint8_t> dns_answer(const DnsQuery& q, DnsRcode rcode, std::optional<Ipv4> address = std::nullopt,
                                uint32_t ttl = 5);
// A bare error answer (header only) for a message that could not be parsed.
std::vector<uint8_t> dns_error(uint16_t id, DnsRcode rcode);

}  // namespace vessel::daemon
