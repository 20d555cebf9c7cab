// network create|ls|inspect|rm, and port (docs/daemon/networks.md)
#include "cli/commands.h"
#include "cli/format.h"

namespace vessel::cli {

namespace {

std::string networks_table(const json::Json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : list) {
    std::string name = n.value("name", "");
    if (n.value("default", false)) name += " (default)";
    rows.push_back({name, n.value("subnet", ""), n.value("gateway", ""), n.value("bridge", ""),
                    n.value("internal", false) ? "yes" : "no", std::to_string(n.value("instances", 0))});
  }
  return render_table({"NAME", "SUBNET", "GATEWAY", "BRIDGE", "INTERNAL", "INSTANCES"}, rows);
}

void add_network_create(CLI::App* network, Context& ctx) {
  struct Flags {
    std::string name, subnet, gateway;
    bool internal = false;
  };
  auto f = std::make_shared<Flags>();
  auto* c = network->add_subcommand("create", "create a bridge network; prints its name");
  c->footer("Examples:\n  vessel network create backend\n  vessel network create --subnet 10.90.0.0/24 --gateway 10.90.0.254 db\n"
            "  vessel network create --internal sealed\n"
            "Instances join with `vessel run --network NAME`, get an address of the subnet and reach each other\n"
            "by address; different networks cannot reach each other. Without --subnet, vesseld picks a free /24\n"
            "of 10.89.0.0 and up that overlaps no other network and no route of the host.");
  c->add_option("name", f->name, "network name: letters, digits, '_', '.', '-'")->required();
  c->add_option("--subnet", f->subnet, "IPv4 subnet in CIDR form, /8../30 (default: a free /24)");
  c->add_option("--gateway", f->gateway, "the bridge's address in the subnet (default: the subnet's first address)");
  c->add_flag("--internal", f->internal, "no route to the outside: no NAT, no forwarding off the bridge");
  c->callback([&ctx, f] {
    json::Json body = {{"name", f->name}, {"internal", f->internal}};
    if (!f->subnet.empty()) body["subnet"] = f->subnet;
    if (!f->gateway.empty()) body["gateway"] = f->gateway;
    auto r = ctx.client().call("POST", "/v1/networks", body);
    if (!r) { ctx.status = report(r.error()); return; }
    fmt::print("{}\n", r->value("name", f->name));
  });
}

void add_network_queries(CLI::App* network, Context& ctx) {
  {
    auto as_json = std::make_shared<bool>(false);
    auto* c = network->add_subcommand("ls", "list networks: name, subnet, gateway, bridge, how many instances");
    c->alias("list");
    c->add_flag("--json", *as_json, "print JSON");
    c->callback([&ctx, as_json] {
      auto r = ctx.client().call("GET", "/v1/networks");
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}", *as_json ? r->dump(2) + "\n" : networks_table(*r));
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = network->add_subcommand("inspect", "print networks as JSON, with their members and addresses");
    c->add_option("names", *names, "network names")->required();
    c->callback([&ctx, names] {
      json::Json out = json::Json::array();
      for (const auto& n : *names) {
        auto r = ctx.client().call("GET", "/v1/networks/" + escape_segment(n));
        if (!r) ctx.status = report(r.error());
        else out.push_back(*r);
      }
      if (!out.empty()) fmt::print("{}\n", out.size() == 1 ? out[0].dump(2) : out.dump(2));
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = network->add_subcommand("rm", "remove networks no instance is on (their bridges too)");
    c->alias("remove");
    c->add_option("names", *names, "network names")->required();
    c->callback([&ctx, names] {
      for (const auto& n : *names) {
        auto r = ctx.client().call("DELETE", "/v1/networks/" + escape_segment(n));
        if (!r) ctx.status = report(r.error());
        else fmt::print("{}\n", n);
      }
    });
  }
}

}  // namespace

void add_network_commands(CLI::App& app, Context& ctx) {
  auto* network = app.add_subcommand("network", "manage networks: create, ls, inspect, rm");
  network->require_subcommand(1);
  add_network_create(network, ctx);
  add_network_queries(network, ctx);

  auto name = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto* port = app.add_subcommand("port", "list an instance's published ports (as `docker port`)");
  port->footer("Output: one line per port, GUEST/PROTO -> HOST_IP:HOST_PORT, e.g. `80/tcp -> 0.0.0.0:8080`.\n"
               "Ports are published with `vessel run -p [IP:]HOST:GUEST[/tcp|udp]`.");
  port->add_option("name", *name, "instance name")->required();
  port->add_flag("--json", *as_json, "print JSON: [{host_ip, host_port, guest_port, protocol}]");
  port->callback([&ctx, name, as_json] {
    auto r = ctx.client().call("GET", "/v1/instances/" + escape_segment(*name));
    if (!r) { ctx.status = report(r.error()); return; }
    json::Json ports = r->value("ports", json::Json::array());
    if (*as_json) { fmt::print("{}\n", ports.dump(2)); return; }
    for (const auto& p : ports)
      fmt::print("{}/{} -> {}:{}\n", p.value("guest_port", 0), p.value("protocol", "tcp"), p.value("host_ip", "0.0.0.0"),
                 p.value("host_port", 0));
  });
}

}  // namespace vessel::cli
