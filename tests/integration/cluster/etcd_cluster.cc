#include "etcd_cluster.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "http/http.h"

namespace vessel::test {

EtcdCluster::EtcdCluster() {
  std::string pattern = "/tmp/vessel-etcd-cluster.XXXXXX";
  if (::mkdtemp(pattern.data())) dir_ = pattern;
}

EtcdCluster::~EtcdCluster() {
  members_.clear();  // killed and reaped before their data goes
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

bool EtcdCluster::start(int members, const std::function<std::string(int)>& address, std::string* error) {
  for (int k = 1; k <= members; ++k) {
    Member m;
    m.name = "m" + std::to_string(k);
    m.client = "http://" + address(k) + ":2379";
    m.peer = "http://" + address(k) + ":2380";
    m.dir = dir_ + "/" + m.name;
    initial_cluster_ += (k > 1 ? "," : "") + m.name + "=" + m.peer;
    members_.push_back(std::move(m));
  }
  for (auto& m : members_)
    if (!launch(m, "new", error)) return false;
  for (auto& m : members_)
    if (!healthy(m, error)) return false;
  return true;
}

std::string EtcdCluster::urls() const {
  std::string out;
  for (const auto& m : members_) out += (out.empty() ? "" : ",") + m.client;
  return out;
}

bool EtcdCluster::launch(Member& m, const std::string& state, std::string* error) {
  std::filesystem::create_directories(m.dir);
  int log = ::open((m.dir + ".log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  SpawnOptions so;
  so.stdout_fd = so.stderr_fd = log;
  auto p = Process::spawn({"etcd", "--name", m.name, "--data-dir", m.dir + "/data", "--listen-client-urls", m.client,
                           "--advertise-client-urls", m.client, "--listen-peer-urls", m.peer,
                           "--initial-advertise-peer-urls", m.peer, "--initial-cluster", initial_cluster_,
                           "--initial-cluster-state", state, "--initial-cluster-token", "vessel-test"},
                          so);
  ::close(log);
  if (!p) return *error = "start etcd (apt-get install etcd-server): " + p.error().to_string(), false;
  m.process = std::move(*p);
  return true;
}

// /health is true once the member has a leader (so a quorum); at most 30 s.
bool EtcdCluster::healthy(Member& m, std::string* error) {
  for (int i = 0; i < 300; ++i) {
    http::ClientOptions o;
    o.timeout = std::chrono::milliseconds(500);
    auto r = http::request(o, "GET", m.client + "/health");
    if (r && r->status == 200 && r->body.find("true") != std::string::npos) return true;
    auto exited = m.process.wait_for(std::chrono::milliseconds(100));
    if (!exited || *exited) return *error = "etcd member " + m.name + " exited; see " + m.dir + ".log", false;
  }
  return *error = "etcd member " + m.name + " was not healthy within 30 s; see " + m.dir + ".log", false;
}

bool EtcdCluster::restart(int k, int signal, std::string* error) {
  Member& m = members_[k];
  (void)m.process.signal(signal);
  (void)m.process.wait();
  return launch(m, "existing", error) && healthy(m, error);
}

}  // namespace vessel::test
