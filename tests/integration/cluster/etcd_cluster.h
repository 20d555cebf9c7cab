// A real etcd cluster of several members (Debian's etcd-server) for the cluster tests: member k
// listens on `address(k)` (clients :2379, peers :2380), each with its own data directory under a
// temporary directory, killed and removed when the object goes. One member can be restarted
// (killed, then started again on its data) while the others keep the quorum.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/process.h"

namespace vessel::test {

class EtcdCluster {
 public:
  EtcdCluster();
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Starts `members` members, member k on address(k), and waits until each answers /health.
  bool start(int members, const std::function<std::string(int)>& address, std::string* error);
  // The client URLs, comma-separated (vesseld --cluster).
  std::string urls() const;
  int size() const { return static_cast<int>(members_.size()); }
  // Kills member k (0-based) with `signal`, waits for it, starts it again on its data directory.
  bool restart(int k, int signal, std::string* error);
  Process& process(int k) { return members_[k].process; }

 private:
  struct Member {
    std::string name, client, peer, dir;
    Process process;
  };
  bool launch(Member& m, const std::string& state, std::string* error);
  bool healthy(Member& m, std::string* error);

  std::string dir_, initial_cluster_;
  std::vector<Member> members_;
};

}  // namespace vessel::test
