// 50 API clients at once, each taking its own container through create, start, inspect, stop
// and delete, while others list.
#include <thread>

#include "http/http.h"
#include "daemon_fixture.h"

namespace vessel::test {
namespace {

TEST(Concurrency, FiftyClientsAtOnce) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  Daemon daemon(tmp.path);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  constexpr int kClients = 50;
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] {
      http::ClientOptions o;
      o.unix_socket = daemon.socket();
      std::string name = "c" + std::to_string(i);
      auto call = [&](const std::string& method, const std::string& path, const std::string& body, long want) {
        auto r = http::request(o, method, "http://localhost" + path, body);
        if (!r || r->status != want) {
          failures[i] += method + " " + path + " -> " + (r ? std::to_string(r->status) + " " + r->body : r.error().to_string()) + "\n";
          return false;
        }
        return true;
      };
      std::string spec = R"({"name":")" + name + R"(","rootfs":")" + tmp.path + R"(/rootfs","memory_mib":32,"cpu_reservation":0.1,"command":["/bin/sleep","100"]})";
      if (call("POST", "/v1/instances?start=1", spec, 201) && call("GET", "/v1/instances/" + name, "", 200) &&
          call("GET", "/v1/instances", "", 200) && call("POST", "/v1/instances/" + name + "/stop", R"({"timeout_s":0})", 200) &&
          call("DELETE", "/v1/instances/" + name, "", 204))
        ok++;
    });
  for (auto& t : threads) t.join();
  std::string all;
  for (const auto& f : failures) all += f;
  EXPECT_EQ(ok.load(), kClients) << all;
  EXPECT_TRUE(daemon.vessel_json({"ls", "-a", "--json"}).empty());
}

}  // namespace
}  // namespace vessel::test
