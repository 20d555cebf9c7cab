// Forwarding between nodes of different hosts (docs/cluster.md#forwarding): three real vesselds on
// one etcd, each serving TLS (--listen) and advertising https://; no `vessel trust add` anywhere.
// Each node publishes its TLS identity in its record, and the others pin its key and admit its
// certificate as a cluster node's. Requests for a container on node-3 made on node-1 and node-2
// reach node-3 over TLS (exec's upgraded stream too); a certificate from outside the cluster is
// refused; a node's certificate
// may not touch another node's trust store; a node advertising https:// without --listen is
// refused at its start.
#include "cluster_nodes.h"

namespace vessel::test::cluster_nodes {
namespace {

using namespace std::chrono_literals;

class ClusterTlsForwarding : public ClusterNodes {
 protected:
  // --listen and --advertise for node i on its own loopback port.
  std::vector<std::vector<std::string>> tls_flags(int count) {
    std::vector<std::vector<std::string>> flags;
    for (int i = 0; i < count; ++i) {
      ports_.push_back(free_tcp_port());
      std::string port = std::to_string(ports_.back());
      flags.push_back({"--listen", "tcp://127.0.0.1:" + port, "--advertise", "https://127.0.0.1:" + port});
    }
    return flags;
  }
  std::string fingerprint(int i) {
    std::string text = read_file(node(i).state_dir() + "/tls/server.fingerprint").value_or("");
    return text.substr(0, text.find('\n'));
  }
  // The CLI against node `to`'s TLS port with the key pair in `tls_dir` (STATE/tls of a vesseld).
  CliResult remote(int to, const std::string& tls_dir, const std::vector<std::string>& args) {
    std::vector<std::string> argv{vessel_path(), "--remote", "https://127.0.0.1:" + std::to_string(ports_[to - 1]),
                                  "--client-cert", tls_dir + "/server.crt", "--client-key", tls_dir + "/server.key",
                                  "--server-fingerprint", fingerprint(to)};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  std::vector<int> ports_;
};

TEST_F(ClusterTlsForwarding, NodesTrustEachOtherThroughTheirRecordsAndNobodyElse) {
  start_nodes(3, tls_flags(3));
  if (HasFatalFailure()) return;
  // Each record carries the node's key as its own server.fingerprint says.
  auto record = node(1).vessel_json({"cluster", "inspect", "node-3", "--json"});
  ASSERT_TRUE(record.contains("tls")) << record.dump();
  EXPECT_EQ(record["tls"].value("pubkey_sha256", ""), fingerprint(3)) << record.dump();
  EXPECT_EQ(record.value("advertise", ""), "https://127.0.0.1:" + std::to_string(ports_[2]));
  auto shown = node(2).vessel({"cluster", "inspect", "node-3"});
  EXPECT_NE(shown.out.find("TLS key:  sha256 " + fingerprint(3)), std::string::npos) << shown.out;

  std::string tok = token("tls-forward");
  auto run = run_clustered(node(1), "web", tok, {"--restart", "always", "--constraint", "node.hostname==node-3"});
  ASSERT_EQ(run.status, 0) << run.err;
  ASSERT_EQ(wait_running("web", tok), "node-3");

  // inspect, logs and exec through node-1 and node-2: node-3's own answers, over TLS.
  auto inspected = node(1).vessel_json({"inspect", "web"});
  EXPECT_EQ(inspected.value("state", ""), "running") << inspected.dump();
  EXPECT_GT(inspected.value("pid", 0), 0) << "node-3's live view, not the record: " << inspected.dump();
  auto logs_out = node(2).vessel({"logs", "web"});
  EXPECT_EQ(logs_out.status, 0) << logs_out.err << logs();
  EXPECT_NE(logs_out.out.find("hello " + tok), std::string::npos) << logs_out.out;
  auto exec = node(1).vessel({"exec", "web", "--", "/bin/sh", "-c", "echo over-tls-$((6*7)); exit 4"});
  EXPECT_EQ(exec.status, 4) << exec.err << logs();
  EXPECT_NE(exec.out.find("over-tls-42"), std::string::npos) << exec.out << exec.err;
  // exec's stream (an HTTP upgrade) is relayed through TLS, however long its output.
  auto big = node(2).vessel({"exec", "web", "--", "/bin/sh", "-c", "seq 1 30000; echo end-of-seq >&2"});
  EXPECT_EQ(big.status, 0) << big.err << logs();
  EXPECT_NE(big.out.find("\n29999\n30000\n"), std::string::npos) << big.out.size() << " bytes";
  EXPECT_NE(big.err.find("end-of-seq"), std::string::npos) << big.err;
  // vessel ls on node-1 shows node-3's live state (it asks node-3 over TLS).
  auto listed = node(1).vessel_json({"ls", "--json"});
  bool live = false;
  for (const auto& i : listed)
    if (i.value("name", "") == "web") live = i.value("pid", 0) > 0 && i.value("state", "") == "running";
  EXPECT_TRUE(live) << listed.dump();
  // node-3 logged the forwarded requests as coming from a cluster node.
  EXPECT_EQ(nodes_[2]->daemon->log().find("untrusted certificate"), std::string::npos) << nodes_[2]->daemon->log();

  // A node's certificate is a cluster node's on node-3: instances yes, its trust store no.
  std::string node1_tls = node(1).state_dir() + "/tls";
  auto as_node = remote(3, node1_tls, {"ls", "--json"});
  EXPECT_EQ(as_node.status, 0) << as_node.err;
  EXPECT_NE(as_node.out.find("\"web\""), std::string::npos) << as_node.out;
  auto remote_exec = remote(3, node1_tls, {"exec", "web", "--", "/bin/sh", "-c", "echo remote-$((6*7))"});
  EXPECT_EQ(remote_exec.status, 0) << remote_exec.err;
  EXPECT_NE(remote_exec.out.find("remote-42"), std::string::npos) << "vessel --remote exec: " << remote_exec.out;
  auto trust = remote(3, node1_tls, {"trust", "ls"});
  EXPECT_NE(trust.status, 0);
  EXPECT_NE(trust.err.find("needs the admin role"), std::string::npos) << trust.err;

  // A vesseld outside the cluster (its own identity, no record) is refused by node-3.
  TempDir outsider;
  Daemon stranger(outsider.path, {"--listen", "tcp://127.0.0.1:" + std::to_string(free_tcp_port())});
  ASSERT_TRUE(stranger.start()) << stranger.log();
  auto refused = remote(3, stranger.state_dir() + "/tls", {"ls"});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("is not trusted"), std::string::npos) << refused.err;

  // stop and start through node-2 still go through the record; rm ends it.
  ASSERT_EQ(node(2).vessel({"stop", "-t", "5", "web"}).status, 0) << logs();
  EXPECT_TRUE(eventually([&] { return shells_of(tok).empty(); }));
  ASSERT_EQ(node(2).vessel({"rm", "web"}).status, 0) << logs();
}

TEST_F(ClusterTlsForwarding, AnHttpsAddressWithoutListenIsRefusedAtStart) {
  TempDir dir;
  Daemon lone(dir.path, {"--node", "node-x", "--cluster", etcd_.url(), "--advertise", "https://127.0.0.1:8443"});
  EXPECT_FALSE(lone.start());
  EXPECT_NE(lone.log().find("add --listen"), std::string::npos) << lone.log();
}

}  // namespace
}  // namespace vessel::test::cluster_nodes
