// The embedded DNS server's parser and answers (a container reaches them), the local-answer
// policy, resolv.conf's upstream, the generated /etc files, and one real query over UDP.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <thread>

#include "base/fd.h"
#include "daemon/network/dns_message.h"
#include "daemon/network/dns_server.h"
#include "daemon/network/etc_files.h"

namespace vessel::daemon {
namespace {

// A query as a resolver writes it: id 0x1234, RD, one question.
std::vector<uint8_t> query(const std::vector<std::string>& labels, uint16_t type = kDnsTypeA, uint16_t klass = kDnsClassIn) {
  std::vector<uint8_t> m{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  for (const auto& l : labels) {
    m.push_back(static_cast<uint8_t>(l.size()));
    m.insert(m.end(), l.begin(), l.end());
  }
  m.push_back(0);
  m.insert(m.end(), {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), static_cast<uint8_t>(klass >> 8),
                     static_cast<uint8_t>(klass)});
  return m;
}

TEST(DnsMessage, ParsesAQuery) {
  auto m = query({"Web", "example"});
  auto q = parse_dns_query(m);
  ASSERT_TRUE(q) << q.error().to_string();
  EXPECT_EQ(q->id, 0x1234);
  EXPECT_TRUE(q->recursion_desired);
  EXPECT_EQ(q->name, "web.example");  // lower case
  EXPECT_EQ(q->qtype, kDnsTypeA);
  EXPECT_EQ(q->question.size(), m.size() - 12);
  auto root = parse_dns_query(query({}));
  ASSERT_TRUE(root);
  EXPECT_EQ(root->name, "");
}

TEST(DnsMessage, RefusesMalformedQueries) {
  uint16_t id = 0;
  EXPECT_FALSE(parse_dns_query(std::vector<uint8_t>(11, 0), &id));
  auto response = query({"a"});
  response[2] |= 0x80;
  EXPECT_FALSE(parse_dns_query(response, &id));
  EXPECT_EQ(id, 0x1234);  // still known: a FORMERR can be answered
  auto opcode = query({"a"});
  opcode[2] |= 0x10;
  EXPECT_EQ(parse_dns_query(opcode).error().errnum(), ENOTSUP);
  auto two = query({"a"});
  two[5] = 2;
  EXPECT_FALSE(parse_dns_query(two));
  auto pointer = query({"a"});
  pointer[12] = 0xc0;  // compression in the question
  EXPECT_FALSE(parse_dns_query(pointer));
  auto truncated = query({"abc"});
  truncated.resize(14);
  EXPECT_FALSE(parse_dns_query(truncated));
  auto no_type = query({"abc"});
  no_type.resize(no_type.size() - 3);
  EXPECT_FALSE(parse_dns_query(no_type));
  auto trailing = query({"a"});
  trailing.push_back(0);
  EXPECT_FALSE(parse_dns_query(trailing));
  std::vector<std::string> long_name(5, std::string(60, 'x'));  // 5 x 61 > 255
  EXPECT_FALSE(parse_dns_query(query(long_name)));
  EXPECT_FALSE(parse_dns_query(std::vector<uint8_t>(kDnsMaxMessage + 1, 0)));
}

TEST(DnsMessage, BuildsAnswers) {
  auto q = *parse_dns_query(query({"web"}));
  auto a = dns_answer(q, DnsRcode::NoError, Ipv4{0x0a580002}, 5);
  ASSERT_EQ(a.size(), 12 + q.question.size() + 16);
  EXPECT_EQ(a[0], 0x12);
  EXPECT_EQ(a[1], 0x34);
  EXPECT_EQ(a[2], 0x85);  // QR, AA, RD
  EXPECT_EQ(a[3], 0);
  EXPECT_EQ(a[7], 1);  // one answer
  EXPECT_EQ(std::vector<uint8_t>(a.end() - 4, a.end()), (std::vector<uint8_t>{10, 88, 0, 2}));
  auto nx = dns_answer(q, DnsRcode::NxDomain);
  EXPECT_EQ(nx[3], 3);
  EXPECT_EQ(nx[7], 0);
  auto err = dns_error(0xbeef, DnsRcode::FormErr);
  ASSERT_EQ(err.size(), 12u);
  EXPECT_EQ(err[3], 1);
}

TEST(DnsServer, AnswersInstancesLocallyAndLeavesTheRest) {
  auto a = *parse_dns_query(query({"web"}));
  auto aaaa = *parse_dns_query(query({"web"}, kDnsTypeAAAA));
  auto chaos = *parse_dns_query(query({"web"}, kDnsTypeA, 3));
  EXPECT_FALSE(dns_local_answer(a, std::nullopt));
  auto hit = dns_local_answer(a, Ipv4{0x0a000002});
  ASSERT_TRUE(hit);
  EXPECT_EQ((*hit)[7], 1);
  auto empty = dns_local_answer(aaaa, Ipv4{0x0a000002});
  ASSERT_TRUE(empty);
  EXPECT_EQ((*empty)[3], 0);
  EXPECT_EQ((*empty)[7], 0);
  EXPECT_EQ((*dns_local_answer(chaos, Ipv4{1}))[3], 5);  // refused
  EXPECT_EQ(to_string(parse_resolv_conf_upstream("# x\nsearch lan\nnameserver ::1\nnameserver 192.0.2.53\n")->address), "192.0.2.53");
  EXPECT_FALSE(parse_resolv_conf_upstream("search lan\n"));
}

TEST(DnsServer, AnswersOverUdp) {
  // Loopback on an unprivileged port: no root, no network.
  uint16_t port = static_cast<uint16_t>(20000 + ::getpid() % 20000);
  DnsServer server([](const std::string& net, const std::string& name) -> std::optional<Ipv4> {
    if (net == "n" && name == "web") return Ipv4{0x0a000007};
    return std::nullopt;
  }, std::nullopt, port);
  server.set_listeners({{"n", Ipv4{0x7f000001}}});
  Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(0x7f000001);
  ASSERT_EQ(::connect(s.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  auto ask = [&](const std::vector<uint8_t>& m) {
    std::vector<uint8_t> buf(600);
    if (::send(s.get(), m.data(), m.size(), 0) < 0) return std::vector<uint8_t>{};
    pollfd p{s.get(), POLLIN, 0};
    if (::poll(&p, 1, 3000) != 1) return std::vector<uint8_t>{};
    auto n = ::recv(s.get(), buf.data(), buf.size(), 0);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  };
  auto hit = ask(query({"WEB"}));
  ASSERT_GE(hit.size(), 16u);
  EXPECT_EQ(std::vector<uint8_t>(hit.end() - 4, hit.end()), (std::vector<uint8_t>{10, 0, 0, 7}));
  auto miss = ask(query({"other"}));
  ASSERT_GE(miss.size(), 12u);
  EXPECT_EQ(miss[3], 5);  // no upstream: refused
  auto bad = query({"a"});
  bad[5] = 3;
  auto formerr = ask(bad);
  ASSERT_EQ(formerr.size(), 12u);
  EXPECT_EQ(formerr[3], 1);
}

TEST(DnsServer, ForwardsOtherNamesToTheUpstreamAndRelaysItsAnswer) {
  // A fake upstream on loopback: answers every query with its id, QR set and NXDOMAIN.
  Fd up(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(0x7f000001);
  ASSERT_EQ(::bind(up.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(up.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::thread upstream([&] {
    uint8_t buf[600];
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    pollfd p{up.get(), POLLIN, 0};
    if (::poll(&p, 1, 3000) != 1) return;
    auto n = ::recvfrom(up.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 12) return;
    buf[2] |= 0x80;
    buf[3] = 3;
    (void)::sendto(up.get(), buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  });
  uint16_t port = static_cast<uint16_t>(20000 + (::getpid() + 7) % 20000);
  {
    DnsServer server([](const std::string&, const std::string&) { return std::optional<Ipv4>(); },
                     DnsUpstream{Ipv4{0x7f000001}, ntohs(a.sin_port)}, port);
    server.set_listeners({{"n", Ipv4{0x7f000001}}});
    Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(0x7f000001);
    ASSERT_EQ(::connect(s.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    auto q = query({"example", "org"});
    ASSERT_EQ(::send(s.get(), q.data(), q.size(), 0), static_cast<ssize_t>(q.size()));
    pollfd p{s.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 3000), 1);
    uint8_t buf[600];
    auto n = ::recv(s.get(), buf, sizeof buf, 0);
    ASSERT_EQ(n, static_cast<ssize_t>(q.size()));
    EXPECT_EQ(buf[0], 0x12);
    EXPECT_EQ(buf[1], 0x34);
    EXPECT_EQ(buf[3], 3);  // the upstream's NXDOMAIN, relayed
  }
  upstream.join();
}

TEST(EtcFiles, NameTheGatewayAndTheInstance) {
  EXPECT_NE(render_resolv_conf(Ipv4{0x0a580001}).find("nameserver 10.88.0.1\n"), std::string::npos);
  EXPECT_NE(render_hosts("web", Ipv4{0x0a580002}).find("10.88.0.2\tweb\n"), std::string::npos);
  EXPECT_NE(render_hosts("web", Ipv4{0x0a580002}).find("127.0.0.1\tlocalhost\n"), std::string::npos);
}

}  // namespace
}  // namespace vessel::daemon
