// Networks' pure parts: CIDR parsing, network specs and their validation, IPAM, the host's
// routes, published ports, the nftables ruleset, and the store's networks and addresses.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "daemon/network/cidr.h"
#include "daemon/network/host_routes.h"
#include "daemon/network/ipam.h"
#include "daemon/network/network_spec.h"
#include "daemon/network/nft_ruleset.h"
#include "daemon/spec/port_spec.h"
#include "daemon/spec/spec.h"
#include "daemon/store/store.h"
#include "temp_dir.h"

namespace vessel::daemon {
namespace {

Ipv4 ip(const char* s) { return *parse_ipv4(s); }
Cidr cidr(const char* s) { return *parse_cidr(s); }

TEST(Cidr, ParsesStrictly) {
  EXPECT_EQ(to_string(ip("10.88.0.1")), "10.88.0.1");
  for (const char* bad : {"", "10.88.0", "10.88.0.1.2", "256.1.1.1", "01.1.1.1", "1..1.1", "1.1.1.1 ", "a.b.c.d", "1.1.1.1111"})
    EXPECT_FALSE(parse_ipv4(bad)) << bad;
  auto c = parse_cidr("10.88.0.0/16");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix, 16u);
  EXPECT_EQ(to_string(c->last()), "10.88.255.255");
  EXPECT_TRUE(c->contains(ip("10.88.7.9")));
  EXPECT_FALSE(c->contains(ip("10.89.0.1")));
  auto host_bits = parse_cidr("10.88.0.1/16");
  ASSERT_FALSE(host_bits);
  EXPECT_NE(host_bits.error().hint().find("10.88.0.0/16"), std::string::npos);
  for (const char* bad : {"10.88.0.0", "10.88.0.0/", "10.88.0.0/33", "10.88.0.0/016", "10.88.0.0/x"}) EXPECT_FALSE(parse_cidr(bad)) << bad;
  EXPECT_EQ(to_string(cidr("0.0.0.0/0")), "0.0.0.0/0");
  EXPECT_EQ(netmask_string(24), "255.255.255.0");
  EXPECT_TRUE(overlaps(cidr("10.0.0.0/8"), cidr("10.88.0.0/16")));
  EXPECT_FALSE(overlaps(cidr("10.88.0.0/24"), cidr("10.88.1.0/24")));
}

TEST(NetworkSpec, ParsesRequestsAndRefusesBadOnes) {
  auto r = parse_network_request(R"({"name":"backend","subnet":"10.90.0.0/24","gateway":"10.90.0.254","internal":true})");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->name, "backend");
  EXPECT_EQ(to_string(*r->subnet), "10.90.0.0/24");
  EXPECT_EQ(to_string(*r->gateway), "10.90.0.254");
  EXPECT_TRUE(r->internal);
  auto minimal = parse_network_request(R"({"name":"n"})");
  ASSERT_TRUE(minimal);
  EXPECT_FALSE(minimal->subnet);
  for (const char* bad : {R"([])", R"({})", R"({"name":"../x"})", R"({"name":"none"})", R"({"name":"host"})",
                          R"({"name":"n","subnet":"10.0.0.1/8"})", R"({"name":"n","gateway":"10.0.0.1"})",
                          R"({"name":"n","bogus":1})", R"({"name":"n","internal":"yes"})", "{"})
    EXPECT_FALSE(parse_network_request(bad)) << bad;
}

TEST(NetworkSpec, ValidatesAgainstOtherNetworksAndHostRoutes) {
  NetworkSpec n{"n", cidr("10.90.0.0/24"), ip("10.90.0.1"), false, "vbr-x"};
  std::vector<HostRoute> routes{{"eth0", cidr("0.0.0.0/0")}, {"eth0", cidr("192.0.2.0/24")}, {"vessel0", cidr("10.88.0.0/16")}};
  EXPECT_TRUE(validate_network(n, {}, routes, {"vessel0"}));
  auto outside = n;
  outside.gateway = ip("10.91.0.1");
  EXPECT_FALSE(validate_network(outside, {}, routes, {}));
  auto network_address = n;
  network_address.gateway = ip("10.90.0.0");
  EXPECT_FALSE(validate_network(network_address, {}, routes, {}));
  auto tiny = n;
  tiny.subnet = cidr("10.90.0.0/31");
  EXPECT_FALSE(validate_network(tiny, {}, routes, {}));
  NetworkSpec other{"other", cidr("10.90.0.128/25"), ip("10.90.0.129"), false, "vbr-y"};
  auto clash = validate_network(n, {other}, routes, {});
  ASSERT_FALSE(clash);
  EXPECT_NE(clash.error().message().find("overlaps network other"), std::string::npos) << clash.error().message();
  auto host = n;
  host.subnet = cidr("192.0.2.0/25");
  host.gateway = ip("192.0.2.1");
  auto route_clash = validate_network(host, {}, routes, {});
  ASSERT_FALSE(route_clash);
  EXPECT_NE(route_clash.error().message().find("host's route to 192.0.2.0/24 on eth0"), std::string::npos);
  // A route on one of vessel's own bridges is the network itself (after a restart): no clash.
  NetworkSpec dflt{"vessel", cidr("10.88.0.0/16"), ip("10.88.0.1"), false, "vessel0"};
  EXPECT_TRUE(validate_network(dflt, {}, routes, {"vessel0"}));
  EXPECT_FALSE(validate_network(dflt, {}, routes, {}));
}

TEST(NetworkSpec, RoundTripsThroughJson) {
  NetworkSpec n{"n", cidr("10.90.0.0/24"), ip("10.90.0.1"), true, "vbr-x"};
  auto back = network_from_json(to_json(n).dump());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->subnet, n.subnet);
  EXPECT_EQ(back->gateway, n.gateway);
  EXPECT_TRUE(back->internal);
  EXPECT_EQ(back->bridge, "vbr-x");
}

TEST(Ipam, PicksTheLowestFreeAddressAndKnowsWhenFull) {
  auto net = cidr("10.90.0.0/29");  // .1 gateway, .2-.6 usable, .7 broadcast
  EXPECT_EQ(to_string(*pick_address(net, ip("10.90.0.1"), {})), "10.90.0.2");
  EXPECT_EQ(to_string(*pick_address(net, ip("10.90.0.1"), {ip("10.90.0.2"), ip("10.90.0.4")})), "10.90.0.3");
  // A freed address is reused.
  EXPECT_EQ(to_string(*pick_address(net, ip("10.90.0.1"), {ip("10.90.0.3")})), "10.90.0.2");
  // The gateway may sit anywhere.
  EXPECT_EQ(to_string(*pick_address(net, ip("10.90.0.2"), {})), "10.90.0.1");
  EXPECT_FALSE(pick_address(net, ip("10.90.0.1"), {ip("10.90.0.2"), ip("10.90.0.3"), ip("10.90.0.4"), ip("10.90.0.5"), ip("10.90.0.6")}));
  EXPECT_EQ(to_string(*pick_subnet({})), "10.89.0.0/24");
  EXPECT_EQ(to_string(*pick_subnet({cidr("10.89.0.0/23")})), "10.89.2.0/24");
  EXPECT_FALSE(pick_subnet({cidr("10.0.0.0/8")}));
}

TEST(HostRoutes, ParsesProcNetRoute) {
  const char* text =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "vessel0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
      "garbage line\n"
      "eth1\tZZZZZZZZ\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
  auto routes = parse_proc_net_route(text);
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(to_string(routes[0].dest), "0.0.0.0/0");
  EXPECT_EQ(routes[1].ifname, "eth0");
  EXPECT_EQ(to_string(routes[1].dest), "192.0.2.0/24");
  EXPECT_EQ(to_string(routes[2].dest), "10.88.0.0/16");
}

TEST(PortSpec, ParsesDockersSyntax) {
  auto p = parse_port_flag("8080:80");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host_ip, "");
  EXPECT_EQ(p->host_port, 8080);
  EXPECT_EQ(p->guest_port, 80);
  EXPECT_EQ(p->protocol, "tcp");
  auto q = parse_port_flag("127.0.0.1:5353:53/udp");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->host_ip, "127.0.0.1");
  EXPECT_EQ(q->protocol, "udp");
  EXPECT_EQ(port_line(*q), "53/udp -> 127.0.0.1:5353");
  for (const char* bad : {"", "80", ":80", "8080:", "0:80", "8080:65536", "8080:80/sctp", "x:8080:80", "1.2.3:8080:80", "8080:80/"})
    EXPECT_FALSE(parse_port_flag(bad)) << bad;
  EXPECT_TRUE(ports_clash(*parse_port_flag("8080:80"), *parse_port_flag("127.0.0.1:8080:81")));
  EXPECT_FALSE(ports_clash(*parse_port_flag("8080:80"), *parse_port_flag("8080:80/udp")));
  EXPECT_FALSE(ports_clash(*parse_port_flag("127.0.0.1:8080:80"), *parse_port_flag("127.0.0.2:8080:80")));
}

TEST(PortSpec, TheSpecTakesNetworkAndPortsAndRefusesContradictions) {
  auto s = parse_spec_text(R"({"name":"web","rootfs":"/r","network":"backend",
                               "ports":["8080:80",{"host_port":5353,"guest_port":53,"protocol":"udp"}]})");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->network, "backend");
  ASSERT_EQ(s->ports.size(), 2u);
  EXPECT_EQ(s->ports[1].protocol, "udp");
  auto back = parse_spec(to_json(*s));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->ports, s->ports);
  EXPECT_EQ(back->network, "backend");
  for (const char* bad : {R"({"name":"w","rootfs":"/r","network":"host","ports":["80:80"]})",
                          R"({"name":"w","rootfs":"/r","network":"none","ports":["80:80"]})",
                          R"({"name":"w","rootfs":"/r","ports":["80:80","80:81"]})",
                          R"({"name":"w","rootfs":"/r","ports":"80:80"})",
                          R"({"name":"w","rootfs":"/r","network":"../x"})",
                          R"({"name":"w","rootfs":"/r","ports":[{"host_port":0,"guest_port":80}]})"})
    EXPECT_FALSE(parse_spec_text(bad)) << bad;
}

TEST(NftRuleset, DnatsPublishedPortsMasqueradesAndIsolates) {
  std::vector<RulesetNetwork> nets{{"vessel0", cidr("10.88.0.0/16"), false}, {"vbr-1", cidr("10.89.0.0/24"), true}};
  std::vector<RulesetPort> ports{{*parse_port_flag("8080:80"), ip("10.88.0.2")},
                                 {*parse_port_flag("127.0.0.1:5353:53/udp"), ip("10.88.0.3")}};
  auto text = render_ruleset("vessel", nets, ports);
  // Replaced whole: created (so that the delete cannot fail), deleted, written anew.
  EXPECT_EQ(text.rfind("table ip vessel\ndelete table ip vessel\ntable ip vessel {", 0), 0u) << text;
  for (const char* want : {"tcp dport 8080 dnat to 10.88.0.2:80", "ip daddr 127.0.0.1 udp dport 5353 dnat to 10.88.0.3:53",
                           "iifname \"vessel0\" oifname \"vbr-1\" drop", "iifname \"vbr-1\" oifname \"vessel0\" drop",
                           "iifname \"vbr-1\" oifname != \"vbr-1\" drop", "ip saddr 10.88.0.0/16 oifname != \"vessel0\" masquerade",
                           "oifname \"vessel0\" ip saddr 127.0.0.0/8 masquerade", "fib daddr type local jump published"})
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  // An internal network is never masqueraded to the outside.
  EXPECT_EQ(text.find("ip saddr 10.89.0.0/24 oifname != \"vbr-1\" masquerade"), std::string::npos);
  EXPECT_EQ(render_delete("t"), "table ip t\ndelete table ip t\n");
}

TEST(NetworkStore, AddressesAreUniqueFreedWithTheInstanceAndBlockNetworkRemoval) {
  test::TempDir d{"vessel-network-test"};
  auto s = std::move(*Store::open(d.path + "/db"));
  ASSERT_TRUE(s->insert_network({"n", R"({"name":"n"})", 0}));
  EXPECT_EQ(s->insert_network({"n", "{}", 0}).error().errnum(), EEXIST);
  ASSERT_TRUE(s->insert_instance({"a", "container", "{}", "created"}));
  ASSERT_TRUE(s->insert_instance({"b", "container", "{}", "created"}));
  auto first = [](const std::vector<std::string>& taken) -> std::optional<std::string> {
    return taken.empty() ? "10.0.0.2" : "10.0.0.3";
  };
  EXPECT_EQ(*s->allocate_address("a", "n", first), "10.0.0.2");
  EXPECT_EQ(*s->allocate_address("b", "n", first), "10.0.0.3");
  auto none = [](const std::vector<std::string>&) { return std::optional<std::string>(); };
  ASSERT_TRUE(s->insert_instance({"c", "container", "{}", "created"}));
  EXPECT_EQ(s->allocate_address("c", "n", none).error().errnum(), ENOSPC);
  // A picker that returns a taken address cannot make two holders of it.
  auto taken = [](const std::vector<std::string>&) { return std::optional<std::string>("10.0.0.2"); };
  EXPECT_FALSE(s->allocate_address("c", "n", taken));
  EXPECT_EQ((*s->address_of("a"))->address, "10.0.0.2");
  EXPECT_EQ(s->list_addresses("n")->size(), 2u);
  auto busy = s->delete_network("n");
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().errnum(), EBUSY);
  EXPECT_NE(busy.error().message().find("a, b"), std::string::npos) << busy.error().message();
  ASSERT_TRUE(s->delete_instance("a"));
  ASSERT_TRUE(s->delete_instance("b"));
  EXPECT_FALSE(*s->address_of("a"));
  EXPECT_TRUE(s->delete_network("n"));
  EXPECT_EQ(s->delete_network("n").error().errnum(), ENOENT);
}

}  // namespace
}  // namespace vessel::daemon
