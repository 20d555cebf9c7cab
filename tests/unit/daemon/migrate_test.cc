// vessel migrate's pure parts (the destination, the request bodies, the destination's answer,
// which disks may migrate) and the orchestration between two managers over fake backends, each
// behind its own API on a Unix socket: the destination refusing (name taken) leaves the source
// untouched; a failed send leaves it running and the destination clean; a good one moves it.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "base/process.h"
#include "base/unix_socket.h"
#include "http/public_key_pin.h"
#include "http/upgrade_client.h"
#include "daemon/api/router.h"
#include "daemon/instances/migrate_request.h"
#include "sleeping_backend.h"

namespace vessel::daemon {
namespace {

TEST(MigrateDestination, SocketsAndLocal) {
  auto d = parse_destination("unix:/run/b/vessel.sock");
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->kind, Destination::Kind::Vesseld);
  EXPECT_EQ(d->socket, "/run/b/vessel.sock");
  EXPECT_EQ(d->text(), "unix:/run/b/vessel.sock");
  EXPECT_EQ(parse_destination("/run/b/vessel.sock")->socket, "/run/b/vessel.sock");
  EXPECT_EQ(parse_destination("local")->kind, Destination::Kind::Local);
  EXPECT_EQ(parse_destination("local")->text(), "local");
}

TEST(MigrateDestination, AnotherHostsVesseldByItsTlsApi) {
  auto d = parse_destination("https://b.example:8443/");
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->kind, Destination::Kind::Remote);
  EXPECT_EQ(d->url, "https://b.example:8443");
  EXPECT_EQ(d->host, "b.example");
  EXPECT_EQ(d->text(), "https://b.example:8443");
  EXPECT_EQ(parse_destination("https://[fd00::2]:8443")->host, "fd00::2");
  EXPECT_EQ(parse_destination("https://10.0.0.2:1")->host, "10.0.0.2");
  for (const char* bad : {"https://", "https://b", "https://b:", "https://b:0", "https://b:65536", "https://b:84x3",
                          "https://b:8443/v1", "https://u@b:8443", "https://[::1:8443", "https://:8443"})
    EXPECT_EQ(parse_destination(bad).error().errnum(), EINVAL) << bad;
}

TEST(MigrateDestination, RefusesWhatItCannotReach) {
  EXPECT_EQ(parse_destination("tcp:10.0.0.2:7000").error().errnum(), EINVAL) << "a raw stream is not a vesseld";
  for (const char* bad : {"", "unix:", "run/b.sock", "unix:relative", "/a/../etc/x.sock", "/a/..", "b"})
    EXPECT_EQ(parse_destination(bad).error().errnum(), EINVAL) << bad;
  EXPECT_EQ(parse_destination("/" + std::string(120, 'a')).error().errnum(), EINVAL) << "longer than sun_path";
  EXPECT_EQ(parse_destination(std::string("/a\0b", 4)).error().errnum(), EINVAL);
}

TEST(MigrateRequest, DefaultsBoundsAndUnknownFields) {
  auto r = parse_migrate_request(R"({"destination": "/run/b.sock"})");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->downtime_ms, 50u);
  EXPECT_EQ(r->max_rounds, 16u);
  r = parse_migrate_request(R"({"destination": "unix:/run/b.sock", "downtime_ms": 5, "max_rounds": 0})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->downtime_ms, 5u);
  EXPECT_EQ(r->max_rounds, 0u);
  EXPECT_EQ(to_json(*r)["destination"], "unix:/run/b.sock");
  for (const char* bad : {"", "[]", "{}", R"({"destination": 3})", R"({"destination": "/b", "downtime_ms": 0})",
                          R"({"destination": "/b", "downtime_ms": 60001})", R"({"destination": "/b", "max_rounds": 1001})",
                          R"({"destination": "/b", "max_rounds": -1})", R"({"destination": "/b", "to": "/c"})",
                          R"({"destination": "b"})"})
    EXPECT_FALSE(parse_migrate_request(bad)) << bad;
  EXPECT_EQ(parse_migrate_request(R"({"destination": "https://x"})").error().errnum(), EINVAL);
}

TEST(MigrateRequest, AnHttpsDestinationNeedsItsKeyPinned) {
  const std::string pin(64, 'c');
  auto r = parse_migrate_request(R"({"destination": "https://10.0.0.2:8443", "destination_pubkey_sha256": ")" + pin + R"("})");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->destination.pubkey_sha256, pin);
  EXPECT_EQ(to_json(*r)["destination_pubkey_sha256"], pin);
  auto unpinned = parse_migrate_request(R"({"destination": "https://10.0.0.2:8443"})");
  ASSERT_FALSE(unpinned);
  EXPECT_NE(unpinned.error().hint().find("server.fingerprint"), std::string::npos);
  for (const std::string& bad : {R"({"destination": "/b.sock", "destination_pubkey_sha256": ")" + pin + R"("})",
                                 R"({"destination": "https://b:1", "destination_pubkey_sha256": ")" + pin.substr(1) + R"("})",
                                 R"({"destination": "https://b:1", "destination_pubkey_sha256": ")" + std::string(64, 'C') + R"("})",
                                 std::string(R"({"destination": "https://b:1", "destination_pubkey_sha256": 7})")})
    EXPECT_FALSE(parse_migrate_request(bad)) << bad;
}

TEST(MigrateRequest, ToAnotherHostTheStreamIsTlsUnlessTcpIsAsked) {
  const std::string pin(64, 'c');
  auto request = [&](const std::string& extra) {
    return parse_migrate_request(R"({"destination": "https://10.0.0.2:8443", "destination_pubkey_sha256": ")" + pin + "\"" + extra + "}");
  };
  auto plain = request("");
  ASSERT_TRUE(plain) << plain.error().to_string();
  EXPECT_EQ(plain->stream, MigrationStream::Tls);
  EXPECT_EQ(to_json(*plain)["stream"], "tls");
  auto tcp = request(R"(, "stream": "tcp")");
  ASSERT_TRUE(tcp) << tcp.error().to_string();
  EXPECT_EQ(tcp->stream, MigrationStream::Tcp);
  EXPECT_EQ(to_json(*tcp)["stream"], "tcp");
  EXPECT_EQ(request(R"(, "stream": "tls")")->stream, MigrationStream::Tls);
  for (const char* bad : {R"(, "stream": "udp")", R"(, "stream": "TLS")", R"(, "stream": 1)"})
    EXPECT_FALSE(request(bad)) << bad;
  auto local = parse_migrate_request(R"({"destination": "/b.sock", "stream": "tcp"})");
  ASSERT_FALSE(local);
  EXPECT_NE(local.error().to_string().find("only for an https:// destination"), std::string::npos);
  EXPECT_FALSE(to_json(*parse_migrate_request(R"({"destination": "/b.sock"})")).contains("stream"));
}

TEST(MigrateRequest, AClusteredInstanceMovesToANodeByName) {
  EXPECT_EQ(parse_cluster_move_request(R"({"node": "node-2"})").value(), "node-2");
  EXPECT_EQ(parse_cluster_move_request("").value(), "");
  EXPECT_EQ(parse_cluster_move_request("{}").value(), "");
  auto socket = parse_cluster_move_request(R"({"destination": "unix:/run/b.sock"})");
  ASSERT_FALSE(socket);
  EXPECT_NE(socket.error().hint().find("--to NODE"), std::string::npos);
  EXPECT_FALSE(parse_cluster_move_request(R"({"node": "Node_2"})"));
  EXPECT_FALSE(parse_cluster_move_request(R"({"node": "n", "downtime_ms": 5})"));
  EXPECT_FALSE(parse_cluster_move_request("[]"));
}

TEST(MigrateIncoming, OnlyVmsWithoutANetwork) {
  auto vm = parse_incoming_request(R"({"spec": {"name": "v", "type": "vm", "kernel": "/k"}})");
  ASSERT_TRUE(vm) << vm.error().to_string();
  EXPECT_EQ(vm->spec.name, "v");
  EXPECT_EQ(vm->receive_on, "") << "one host: a Unix socket";
  auto tcp = parse_incoming_request(R"({"spec": {"name": "v", "type": "vm", "kernel": "/k"}, "receive_on": "fd00::2"})");
  ASSERT_TRUE(tcp) << tcp.error().to_string();
  EXPECT_EQ(tcp->receive_on, "fd00::2");
  for (const char* bad : {"b.example", "10.0.0.256", "[::1]", "", "10.0.0.1:80"})
    EXPECT_FALSE(parse_incoming_request(fmt::format(R"({{"spec": {{"name": "v", "type": "vm", "kernel": "/k"}}, "receive_on": "{}"}})", bad)))
        << bad;
  EXPECT_TRUE(parse_incoming_request(R"({"spec": {"name": "v", "type": "vm", "kernel": "/k", "network": "none"}})"));
  auto container = parse_incoming_request(R"({"spec": {"name": "c", "rootfs": "/r"}})");
  ASSERT_FALSE(container);
  EXPECT_EQ(container.error().errnum(), ENOTSUP);
  EXPECT_NE(container.error().hint().find("checkpoint"), std::string::npos);
  auto net = parse_incoming_request(R"({"spec": {"name": "v", "type": "vm", "kernel": "/k", "network": "br0"}})");
  ASSERT_FALSE(net);
  EXPECT_EQ(net.error().errnum(), ENOTSUP);
  EXPECT_NE(net.error().to_string().find("network interface"), std::string::npos);
  for (const char* bad : {"{}", R"({"spec": 1})", R"({"spec": {"name": "../x", "type": "vm", "kernel": "/k"}})",
                          R"({"spec": {"name": "v", "type": "vm", "kernel": "/k"}, "more": 1})"})
    EXPECT_FALSE(parse_incoming_request(bad)) << bad;
  // Inside TLS: on the address given, which it needs.
  auto tls = parse_incoming_request(R"({"spec": {"name": "v", "type": "vm", "kernel": "/k"}, "receive_on": "10.0.0.2", "stream": "tls"})");
  ASSERT_TRUE(tls) << tls.error().to_string();
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->receive_on, "10.0.0.2");
  EXPECT_FALSE(vm->tls);
  EXPECT_FALSE(parse_incoming_request(R"({"spec": {"name": "v", "type": "vm", "kernel": "/k"}, "stream": "tls"})"));
  EXPECT_FALSE(parse_incoming_request(R"({"spec": {"name": "v", "type": "vm", "kernel": "/k"}, "receive_on": "10.0.0.2", "stream": "tcp"})"));
}

TEST(MigrateIncoming, TheDestinationsAnswerIsChecked) {
  auto a = parse_incoming_answer(R"({"name": "v", "url": "unix:/s/instances/v/run/migrate.sock"})");
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->socket, "/s/instances/v/run/migrate.sock");
  const std::string token(R"("token": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")");
  auto tcp = parse_incoming_answer(R"({"name": "v", "url": "tcp:10.0.0.2:40123", )" + token + "}");
  ASSERT_TRUE(tcp) << tcp.error().to_string();
  EXPECT_EQ(tcp->socket, "");
  EXPECT_EQ(tcp->url, "tcp:10.0.0.2:40123");
  EXPECT_EQ(tcp->token, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  EXPECT_TRUE(parse_incoming_answer(R"({"name": "v", "url": "tcp:[fd00::2]:7000", )" + token + "}"));
  // A TCP receiver takes anyone who reaches its port: without its token the answer is refused.
  for (const char* no_token : {R"({"name": "v", "url": "tcp:10.0.0.2:40123"})",
                               R"({"name": "v", "url": "tcp:10.0.0.2:40123", "token": "0123"})",
                               R"({"name": "v", "url": "tcp:10.0.0.2:40123", "token": 5})",
                               R"({"name": "v", "url": "tcp:10.0.0.2:40123", "token": "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"})"})
    EXPECT_FALSE(parse_incoming_answer(no_token)) << no_token;
  auto tls = parse_incoming_answer(R"({"name": "v", "url": "tls:[fd00::2]:40123"})");
  ASSERT_TRUE(tls) << tls.error().to_string();
  EXPECT_EQ(tls->tls, "https://[fd00::2]:40123");
  EXPECT_EQ(tls->token, "") << "the source's certificate is its key there";
  for (const char* bad : {R"({"name": "v", "url": "tls:b.example:5"})", R"({"name": "v", "url": "tls:10.0.0.2"})",
                          R"({"name": "v", "url": "tls:10.0.0.2:0"})"})
    EXPECT_FALSE(parse_incoming_answer(bad)) << bad;
  EXPECT_EQ(tcp_url("fd00::2", 7000), "tcp:[fd00::2]:7000");
  EXPECT_EQ(tcp_url("10.0.0.2", 7000), "tcp:10.0.0.2:7000");
  for (const char* bad : {"", "{}", R"({"name": "v"})", R"({"name": "v", "url": "tcp:b.example:5"})",
                          R"({"name": "v", "url": "tcp:1.2.3.4"})", R"({"name": "v", "url": "tcp:1.2.3.4:0"})",
                          R"({"name": "v", "url": "tcp:1.2.3.4:99999"})", R"({"name": "v", "url": "http://1.2.3.4:5"})",
                          R"({"name": "v", "url": "unix:rel"})", R"({"name": "../v", "url": "unix:/s"})",
                          R"({"name": "v", "url": "unix:/a/../b"})"})
    EXPECT_FALSE(parse_incoming_answer(bad)) << bad;
}

TEST(MigrateDisks, OnlyDisksOnSharedStorage) {
  EXPECT_TRUE(check_migratable_disks("v", {}, "/s/instances/v"));
  EXPECT_TRUE(check_migratable_disks("v", {{"/shared/base.raw", true, "raw"}}, "/s/instances/v"));
  EXPECT_TRUE(check_migratable_disks("v", {{"/shared/data.raw", false, "raw"}}, "/s/instances/v"));
  auto own = check_migratable_disks("v", {{"/s/instances/v/disks/image-0.qcow2", true, "qcow2"}}, "/s/instances/v");
  ASSERT_FALSE(own);
  EXPECT_EQ(own.error().errnum(), ENOTSUP);
  EXPECT_NE(own.error().to_string().find("block migration is not built"), std::string::npos);
  auto made = check_migratable_disks("v", {{"/shared/ro.raw", true, "raw"}, {"/s/instances/v/disks/disk-1.qcow2", false, "qcow2"}},
                                     "/s/instances/v");
  ASSERT_FALSE(made);
  EXPECT_NE(made.error().to_string().find("disk 1 (/s/instances/v/disks/disk-1.qcow2)"), std::string::npos);
  // A sibling instance's directory with the same prefix is not this one's.
  EXPECT_TRUE(check_migratable_disks("v", {{"/s/instances/vv/d.raw", false, "raw"}}, "/s/instances/v"));
}

// A VM backend whose guest is a sleeping process; send_migration "hands it over" by ending it.
class MovingBackend : public SleepingBackend {
 public:
  Result<ExecResult> exec(const InstanceContext&, const std::vector<std::string>&) override { return ExecResult{}; }
  Result<IncomingGuest> receive_migration(const InstanceContext& ctx, const BootSource&, const std::string&) override {
    ++receives;
    return IncomingGuest{TRY(spawn()), "unix:" + ctx.dir + "/run/migrate.sock"};
  }
  Result<json::Json> send_migration(const InstanceContext&, const GuestProcess& proc, const std::string& url,
                                    const std::string&, uint32_t, uint32_t) override {
    last_url = url;
    if (refuse_send) return fail(EIO, "the receiver refused the VM: no");
    (void)proc.signal(SIGKILL);  // as vessel-vmm exits after the hand-over
    return json::Json{{"downtime_ms", 1.5}, {"total_ms", 20.0}, {"bytes", 4096}, {"rounds", 1}};
  }
  int receives = 0;
  bool refuse_send = false;
  std::string last_url;
};

// One vesseld: store, manager and API on a Unix socket.
struct Side {
  explicit Side(const std::string& dir) : dir(dir) {
    std::filesystem::create_directories(dir);
    store = std::move(*Store::open(dir + "/db"));
    images = std::make_unique<ImageStore>(*store, dir + "/images");
    ManagerConfig config{dir, "vessel-unit", Capacity{4, 8192}, Overcommit{}};
    manager = std::make_unique<Manager>(config, *store, events, *images, fake, fake);
    manager->reconcile();
    api = std::make_unique<Api>(*manager, *images, events, "");
    socket = dir + "/api.sock";
    server = std::move(*http::Server::listen_unix(socket, 0600, [this](const http::Request& r) { return api->handle(r); }));
  }
  ~Side() {
    server.reset();
    (void)manager->remove("v", true);
  }
  http::Response call(const std::string& method, const std::string& path, const std::string& body = "",
                      std::map<std::string, std::string> query = {}) {
    http::Request r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.query = std::move(query);
    return api->handle(r);
  }
  json::Json get(const std::string& name) { return json::parse(call("GET", "/v1/instances/" + name).body).value_or(json::Json()); }

  std::string dir, socket;
  std::unique_ptr<Store> store;
  EventBus events;
  std::unique_ptr<ImageStore> images;
  MovingBackend fake;
  std::unique_ptr<Manager> manager;
  std::unique_ptr<Api> api;
  std::unique_ptr<http::Server> server;
};

struct TwoVesselds : ::testing::Test {
  TwoVesselds() {
    char t[] = "/tmp/vessel-migrate-test.XXXXXX";
    dir = ::mkdtemp(t);
    a = std::make_unique<Side>(dir + "/a");
    b = std::make_unique<Side>(dir + "/b");
  }
  ~TwoVesselds() override {
    a.reset();
    b.reset();
    std::filesystem::remove_all(dir);
  }
  std::string vm(const std::string& name) { return R"({"name":")" + name + R"(","type":"vm","kernel":"/bin/true"})"; }
  std::string to_b() { return json::Json{{"destination", b->socket}}.dump(); }

  std::string dir;
  std::unique_ptr<Side> a, b;
};

TEST_F(TwoVesselds, ARefusingDestinationLeavesTheSourceUntouched) {
  ASSERT_EQ(a->call("POST", "/v1/instances", vm("v"), {{"start", "1"}}).status, 201);
  int pid = a->get("v")["pid"];
  ASSERT_EQ(b->call("POST", "/v1/instances", vm("v")).status, 201);  // the name is taken there
  auto r = a->call("POST", "/v1/instances/v/migrate", to_b());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("already exists"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("v goes on here"), std::string::npos) << r.body;
  EXPECT_EQ(a->get("v")["state"], "running");
  EXPECT_EQ(a->get("v")["pid"], pid);
  EXPECT_EQ(b->get("v")["state"], "created");
  EXPECT_EQ(b->fake.receives, 0);
  EXPECT_TRUE(a->fake.last_url.empty()) << "nothing was sent";
}

TEST_F(TwoVesselds, MigratingToItselfIsRefusedAtOnce) {
  ASSERT_EQ(a->call("POST", "/v1/instances", vm("v"), {{"start", "1"}}).status, 201);
  auto began = std::chrono::steady_clock::now();
  auto r = a->call("POST", "/v1/instances/v/migrate", json::Json{{"destination", a->socket}}.dump());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("already exists"), std::string::npos) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(10)) << "no wait on its own lock";
  EXPECT_EQ(a->get("v")["state"], "running");
}

TEST_F(TwoVesselds, AFailedSendLeavesItRunningHereAndNothingThere) {
  ASSERT_EQ(a->call("POST", "/v1/instances", vm("v"), {{"start", "1"}}).status, 201);
  a->fake.refuse_send = true;
  auto r = a->call("POST", "/v1/instances/v/migrate", to_b());
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("the receiver refused the VM"), std::string::npos) << r.body;
  EXPECT_EQ(b->fake.receives, 1);
  EXPECT_EQ(a->fake.last_url, "unix:" + b->dir + "/instances/v/run/migrate.sock");
  EXPECT_EQ(a->get("v")["state"], "running");
  EXPECT_EQ(b->call("GET", "/v1/instances/v").status, 404) << "the destination aborted its incoming instance";
  EXPECT_FALSE(std::filesystem::exists(b->dir + "/instances/v"));
}

TEST_F(TwoVesselds, AGoodSendMovesItAndTheSourceForgetsIt) {
  ASSERT_EQ(a->call("POST", "/v1/instances", vm("v"), {{"start", "1"}}).status, 201);
  auto r = a->call("POST", "/v1/instances/v/migrate", to_b());
  ASSERT_EQ(r.status, 200) << r.body;
  auto report = json::parse(r.body).value_or(json::Json());
  EXPECT_EQ(report["destination"], "unix:" + b->socket);
  EXPECT_EQ(report["bytes"], 4096);
  EXPECT_GT(report["daemon_total_ms"].get<double>(), 0.0);
  EXPECT_EQ(a->call("GET", "/v1/instances/v").status, 404);
  EXPECT_FALSE(std::filesystem::exists(a->dir + "/instances/v"));
  EXPECT_EQ(b->get("v")["state"], "running");
  EXPECT_GT(b->get("v")["pid"].get<int>(), 0);
}

TEST_F(TwoVesselds, BadInputIsRefusedClearly) {
  auto unknown = a->call("POST", "/v1/instances/nosuch/migrate", to_b());
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  ASSERT_EQ(a->call("POST", "/v1/instances", vm("v")).status, 201);
  auto created = a->call("POST", "/v1/instances/v/migrate", to_b());
  EXPECT_EQ(created.status, 409) << created.body;
  EXPECT_NE(created.body.find("cannot migrate: instance is created"), std::string::npos) << created.body;
  ASSERT_EQ(a->call("POST", "/v1/instances/v/start").status, 200);
  auto nowhere = a->call("POST", "/v1/instances/v/migrate", json::Json{{"destination", dir + "/none.sock"}}.dump());
  EXPECT_NE(nowhere.body.find("cannot reach the destination vesseld"), std::string::npos) << nowhere.body;
  EXPECT_EQ(a->call("POST", "/v1/instances/v/migrate", R"({"destination": "/x", "max_rounds": 5000})").status, 400);
  auto local = a->call("POST", "/v1/instances/v/migrate", R"({"destination": "local"})");
  EXPECT_EQ(local.status, 501) << local.body;
  EXPECT_EQ(a->call("GET", "/v1/instances/v/migrate").status, 405);
  EXPECT_EQ(a->get("v")["state"], "running");
  // The destination's endpoints: a commit or abort of what is not arriving, a container spec.
  EXPECT_EQ(b->call("POST", "/v1/migrations/v/commit").status, 404);
  ASSERT_EQ(b->call("POST", "/v1/instances", vm("w")).status, 201);
  EXPECT_EQ(b->call("POST", "/v1/migrations/w/abort").status, 409);
  EXPECT_EQ(b->get("w")["state"], "created");
  auto container = b->call("POST", "/v1/migrations", R"({"spec": {"name": "c", "rootfs": "/"}})");
  EXPECT_EQ(container.status, 501) << container.body;
  (void)b->manager->remove("w", true);
}

// The destination's side of a stream inside TLS, with the fake backend's receiver: its TLS
// listener takes only the certificate the request came with, and relays to the receiver.
TEST_F(TwoVesselds, AStreamInsideTlsReachesTheReceiverOnlyFromTheCallersCertificate) {
  std::string tls = b->dir + "/tls";
  std::filesystem::create_directories(tls);
  for (const char* who : {"server", "caller", "stranger"})
    ASSERT_EQ(std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=t "
                           "-keyout " + tls + "/" + who + ".key -out " + tls + "/" + who + ".crt 2>/dev/null").c_str()), 0);
  auto sha = [&](const std::string& pipeline) {
    std::string out = dir + "/sha";
    EXPECT_EQ(std::system((pipeline + " | sha256sum | cut -c1-64 > " + out).c_str()), 0);
    return read_file(out).value_or("").substr(0, 64);
  };
  std::string caller_sha = sha("openssl x509 -in " + tls + "/caller.crt -outform der");
  http::ClientOptions caller, stranger;
  caller.pinned_public_key = *http::public_key_pin(
      sha("openssl x509 -in " + tls + "/server.crt -pubkey -noout | openssl pkey -pubin -outform der"));
  stranger.pinned_public_key = caller.pinned_public_key;
  caller.client_cert = tls + "/caller.crt", caller.client_key = tls + "/caller.key";
  stranger.client_cert = tls + "/stranger.crt", stranger.client_key = tls + "/stranger.key";

  http::Request r;
  r.method = "POST";
  r.path = "/v1/migrations";
  r.body = json::Json{{"spec", json::parse(vm("v")).value()}, {"receive_on", "127.0.0.1"}, {"stream", "tls"}}.dump();
  auto plain = b->api->handle(r);
  EXPECT_EQ(plain.status, 403) << "not without a caller's certificate: " << plain.body;
  EXPECT_EQ(b->call("GET", "/v1/instances/v").status, 404) << "nothing left of it";
  r.tls = true;
  r.client_cert_sha256 = caller_sha;
  auto answer = b->api->handle(r);
  ASSERT_EQ(answer.status, 201) << answer.body;
  auto incoming = parse_incoming_answer(answer.body);
  ASSERT_TRUE(incoming) << incoming.error().to_string();
  ASSERT_TRUE(incoming->tls.starts_with("https://127.0.0.1:")) << answer.body;
  // The fake receiver: where the fake backend says its vessel-vmm listens.
  std::filesystem::create_directories(b->dir + "/instances/v/run");
  auto receiver = unix_socket::listen(b->dir + "/instances/v/run/migrate.sock");
  ASSERT_TRUE(receiver) << receiver.error().to_string();

  auto intruder = http::open_tls_stream(stranger, incoming->tls);
  if (intruder) (void)unix_socket::send_all(intruder->get(), "garbage");  // refused: the wait goes on
  auto stream = http::open_tls_stream(caller, incoming->tls);
  ASSERT_TRUE(stream) << stream.error().to_string();
  ASSERT_TRUE(unix_socket::send_all(stream->get(), "preamble"));
  Fd taken(::accept4(receiver->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(taken);
  char buf[16] = {};
  ASSERT_EQ(::recv(taken.get(), buf, 8, MSG_WAITALL), 8);
  EXPECT_EQ(std::string(buf, 8), "preamble") << "the stranger's bytes never reached it";
  ASSERT_TRUE(unix_socket::send_all(taken.get(), "Done"));
  ASSERT_EQ(::recv(stream->get(), buf, 4, MSG_WAITALL), 4);
  EXPECT_EQ(std::string(buf, 4), "Done");
  // The receiver ends: the stream ends too; the abort removes the listener with the instance.
  taken = Fd();
  EXPECT_EQ(::recv(stream->get(), buf, 1, 0), 0);
  EXPECT_EQ(b->call("POST", "/v1/migrations/v/abort").status, 200);
}

TEST_F(TwoVesselds, AnIncomingInstanceRefusesOtherActionsAndIsCleanedAtRestart) {
  auto r = b->call("POST", "/v1/migrations", json::Json{{"spec", json::parse(vm("v")).value()}}.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(b->get("v")["state"], "incoming");
  auto start = b->call("POST", "/v1/instances/v/start");
  EXPECT_EQ(start.status, 409);
  EXPECT_NE(start.body.find("arriving by live migration"), std::string::npos) << start.body;
  EXPECT_EQ(b->call("DELETE", "/v1/instances/v").status, 409);
  int pid = b->get("v")["pid"];
  ASSERT_GT(pid, 0);
  // A restart while it arrives: its receiver answers as running (the fake's probe), so it is adopted.
  b->server.reset();
  b->api.reset();
  b->manager.reset();
  ManagerConfig config{b->dir, "vessel-unit", Capacity{4, 8192}, Overcommit{}};
  b->manager = std::make_unique<Manager>(config, *b->store, b->events, *b->images, b->fake, b->fake);
  b->manager->reconcile();
  b->api = std::make_unique<Api>(*b->manager, *b->images, b->events, "");
  EXPECT_EQ(b->get("v")["state"], "running");
  EXPECT_EQ(b->get("v")["pid"], pid);
}

}  // namespace
}  // namespace vessel::daemon
