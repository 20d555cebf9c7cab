// A real etcd (Debian's etcd-server) for one test: free loopback ports, a private data directory,
// killed and removed when the test ends. Integration tests of src/cluster and of clustered vesseld.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "base/process.h"
#include "free_tcp_port.h"
#include "http/http.h"

namespace vessel::test {

class EtcdServer {
 public:
  EtcdServer() {
    std::string pattern = "/tmp/vessel-etcd.XXXXXX";
    if (::mkdtemp(pattern.data())) dir_ = pattern;
  }
  ~EtcdServer() {
    process_ = Process();  // killed and reaped before its data goes
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;
  // Starts etcd and waits until it answers /health (at most 20 s); false with `error` set if not.
  bool start(std::string* error) {
    int client = free_tcp_port(), peer = free_tcp_port();
    url_ = "http://127.0.0.1:" + std::to_string(client);
    std::string peer_url = "http://127.0.0.1:" + std::to_string(peer);
    int log = ::open((dir_ + "/etcd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    SpawnOptions so;
    so.stdout_fd = so.stderr_fd = log;
    auto p = Process::spawn({"etcd", "--name", "test", "--data-dir", dir_ + "/data", "--listen-client-urls", url_,
                             "--advertise-client-urls", url_, "--listen-peer-urls", peer_url,
                             "--initial-advertise-peer-urls", peer_url, "--initial-cluster", "test=" + peer_url},
                            so);
    ::close(log);
    if (!p) return *error = "start etcd (apt-get install etcd-server): " + p.error().to_string(), false;
    process_ = std::move(*p);
    for (int i = 0; i < 200; ++i) {
      http::ClientOptions o;
      o.timeout = std::chrono::milliseconds(500);
      auto r = http::request(o, "GET", url_ + "/health");
      if (r && r->status == 200 && r->body.find("true") != std::string::npos) return true;
      if (!process_.running() || process_.wait_for(std::chrono::milliseconds(100)).value_or(std::nullopt))
        return *error = "etcd exited; see its log " + dir_ + "/etcd.log", false;
    }
    return *error = "etcd did not become healthy in 20 s", false;
  }
  const std::string& url() const { return url_; }
  Process& process() { return process_; }

 private:
  std::string dir_;  // data directory and log
  std::string url_;
  Process process_;
};

}  // namespace vessel::test
