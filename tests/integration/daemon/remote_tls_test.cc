// vesseld over TCP with TLS client certificates, through the real CLI: trusted clients get the
// API, untrusted or certificate-less ones a 403, plain HTTP and a wrong server fingerprint fail.
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <thread>
#include <tuple>

#include "base/fd.h"
#include "daemon_fixture.h"
#include "free_tcp_port.h"

namespace vessel::test {
namespace {

// A self-signed client certificate made with the openssl CLI.
void make_cert(const std::string& dir, const std::string& name) {
  auto r = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                "-subj", "/CN=" + name, "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".crt"});
  ASSERT_EQ(r.status, 0) << r.err;
}

class RemoteTls : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon.start()) << daemon.log();
    auto fp = read_file(daemon.state_dir() + "/tls/server.fingerprint");
    ASSERT_TRUE(fp) << fp.error().to_string();
    fingerprint = fp->substr(0, fp->find('\n'));
    ASSERT_EQ(fingerprint.size(), 64u);
    make_cert(tmp.path, "alice");
    make_cert(tmp.path, "mallory");
  }
  // The CLI against the TLS port with `who`'s certificate.
  CliResult remote(const std::string& who, const std::vector<std::string>& args, const std::string& fp = "") {
    std::vector<std::string> argv{vessel_path(), "--remote", url, "--client-cert", tmp.path + "/" + who + ".crt",
                                  "--client-key", tmp.path + "/" + who + ".key", "--server-fingerprint",
                                  fp.empty() ? fingerprint : fp};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  TempDir tmp;
  int port = free_tcp_port();
  std::string url = "https://127.0.0.1:" + std::to_string(port);
  Daemon daemon{tmp.path, {"--listen", "tcp://127.0.0.1:" + std::to_string(port), "--allowed-host-path",
                           tmp.path + "/allowed"}};
  std::string fingerprint;
};

TEST_F(RemoteTls, TrustedClientListsInstancesUntrustedIsRefused) {
  ASSERT_EQ(daemon.vessel({"create", "--vm", "--name", "remote1", "--kernel", "/bin/true"}).status, 0) << daemon.log();

  // Not yet trusted: a clear 403 from vesseld with what to do.
  auto r = remote("alice", {"ls"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is not trusted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vessel trust add"), std::string::npos) << r.err;

  auto added = daemon.vessel({"trust", "add", tmp.path + "/alice.crt", "--name", "alice", "--role", "operator"});
  ASSERT_EQ(added.status, 0) << added.err;
  std::string alice_fp = added.out.substr(0, added.out.find('\n'));
  EXPECT_EQ(alice_fp.size(), 64u);
  auto list = daemon.vessel_json({"trust", "ls", "--json"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].value("name", ""), "alice");
  EXPECT_EQ(list[0].value("fingerprint", ""), alice_fp);
  EXPECT_EQ(list[0].value("role", ""), "operator");

  r = remote("alice", {"ls", "-a", "--json"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  auto instances = json::parse(r.out);
  ASSERT_TRUE(instances && instances->is_array()) << r.out;
  ASSERT_EQ(instances->size(), 1u);
  EXPECT_EQ((*instances)[0].value("name", ""), "remote1");
  // Writes work too, and are the same daemon's.
  ASSERT_EQ(remote("alice", {"rm", "remote1"}).status, 0);
  EXPECT_EQ(daemon.vessel_json({"ls", "-a", "--json"}).size(), 0u);

  // Another certificate is still refused; a second add of alice's is a conflict.
  r = remote("mallory", {"ls"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is not trusted"), std::string::npos) << r.err;
  EXPECT_EQ(daemon.vessel({"trust", "add", tmp.path + "/alice.crt"}).status, 1);

  // Removing trust takes effect at once.
  ASSERT_EQ(daemon.vessel({"trust", "rm", alice_fp.substr(0, 12)}).status, 0);
  EXPECT_EQ(remote("alice", {"ls"}).status, 1);
  EXPECT_EQ(daemon.vessel_json({"trust", "ls", "--json"}).size(), 0u);
}

TEST_F(RemoteTls, StreamedAnswersWorkOverTls) {
  ASSERT_EQ(daemon.vessel({"trust", "add", tmp.path + "/alice.crt", "--role", "admin"}).status, 0);
  // `vessel events` streams until killed: run it for a while and create an instance meanwhile.
  std::vector<std::string> argv{"timeout", "4", vessel_path(), "--remote", url, "--client-cert", tmp.path + "/alice.crt",
                                "--client-key", tmp.path + "/alice.key", "--server-fingerprint", fingerprint, "events"};
  CliResult events;
  std::thread watcher([&] { events = run(argv); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_EQ(remote("alice", {"create", "--vm", "--name", "streamed", "--kernel", "/bin/true"}).status, 0);
  watcher.join();
  EXPECT_NE(events.out.find(R"("name":"streamed")"), std::string::npos) << events.out << events.err;
  EXPECT_NE(events.out.find("instance-created"), std::string::npos) << events.out;
}

TEST_F(RemoteTls, WrongServerFingerprintIsRefused) {
  ASSERT_EQ(daemon.vessel({"trust", "add", tmp.path + "/alice.crt"}).status, 0);
  std::string wrong = fingerprint;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  auto r = remote("alice", {"ls"}, wrong);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("pinned"), std::string::npos) << r.err;
  // The right one, with colons and capitals as people paste it, works.
  std::string pasted;
  for (size_t i = 0; i < fingerprint.size(); i += 2) pasted += (i ? ":" : "") + fingerprint.substr(i, 2);
  for (auto& c : pasted) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  r = remote("alice", {"ls"}, pasted);
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(RemoteTls, ServerCaVerifiesHostName) {
  ASSERT_EQ(daemon.vessel({"trust", "add", tmp.path + "/alice.crt"}).status, 0);
  std::string ca = daemon.state_dir() + "/tls/server.crt";
  std::string port = std::to_string(this->port);
  auto base = [&](const std::string& host) {
    return std::vector<std::string>{vessel_path(), "--remote", "https://" + host + ":" + port, "--client-cert",
                                    tmp.path + "/alice.crt", "--client-key", tmp.path + "/alice.key", "--server-ca", ca, "ls"};
  };
  auto r = run(base("localhost"));
  EXPECT_EQ(r.status, 0) << r.err;
  // Through the environment, as scripts do.
  r = run({"env", "VESSEL_REMOTE=https://localhost:" + port, "VESSEL_CLIENT_CERT=" + tmp.path + "/alice.crt",
           "VESSEL_CLIENT_KEY=" + tmp.path + "/alice.key", "VESSEL_SERVER_CA=" + ca, vessel_path(), "ls", "--json"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "[]\n");
  // A CA that did not sign the server's certificate.
  std::vector<std::string> argv = base("localhost");
  argv[8] = tmp.path + "/mallory.crt";
  r = run(argv);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot reach vesseld"), std::string::npos) << r.err;
}

TEST_F(RemoteTls, PlainHttpAndMissingCertificatesAreRefused) {
  std::string port = std::to_string(this->port);
  // Plain HTTP to the TLS port: the handshake fails, no API answer comes back.
  auto r = run({"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + port + "/v1/instances"});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out.find("["), std::string::npos) << r.out;
  // TLS without a client certificate: 403 with a hint.
  r = run({"curl", "-sS", "-k", "--max-time", "10", "-w", "%{http_code}", "https://127.0.0.1:" + port + "/v1/instances"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("a client certificate is required"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("403"), std::string::npos) << r.out;
  // The CLI says what is missing before connecting.
  r = run({vessel_path(), "--remote", "https://127.0.0.1:" + port, "ls"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--client-cert"), std::string::npos) << r.err;
  r = run({vessel_path(), "--remote", "https://127.0.0.1:" + port, "--client-cert", tmp.path + "/alice.crt", "--client-key",
           tmp.path + "/alice.key", "ls"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--server-fingerprint"), std::string::npos) << r.err;
  r = run({vessel_path(), "--remote", "http://127.0.0.1:" + port, "ls"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("https://"), std::string::npos) << r.err;
}

// curl with `who`'s certificate: {HTTP status, body}.
std::pair<std::string, std::string> curl(const std::string& dir, const std::string& who, const std::string& method,
                                         const std::string& url, const std::string& body) {
  auto r = run({"curl", "-sS", "-k", "--max-time", "10", "--cert", dir + "/" + who + ".crt", "--key", dir + "/" + who + ".key",
                "-X", method, "-H", "Content-Type: application/json", "--data-binary", body, "-w", "\n%{http_code}", url});
  auto nl = r.out.rfind('\n');
  return {nl == std::string::npos ? r.out : r.out.substr(nl + 1), r.out.substr(0, nl == std::string::npos ? 0 : nl)};
}

TEST_F(RemoteTls, RolesReadOnlyGetsOnlyGetsOperatorCannotTrustAdminCan) {
  for (auto who : {"olivia", "adam"}) make_cert(tmp.path, who);
  ASSERT_EQ(daemon.vessel({"trust", "add", tmp.path + "/alice.crt", "--name", "alice"}).status, 0);  // read-only
  ASSERT_EQ(daemon.vessel({"trust", "add", tmp.path + "/olivia.crt", "--role", "operator"}).status, 0);
  ASSERT_EQ(daemon.vessel({"trust", "add", tmp.path + "/adam.crt", "--role", "admin"}).status, 0);
  auto list = daemon.vessel_json({"trust", "ls", "--json"});
  ASSERT_EQ(list.size(), 3u);
  std::map<std::string, std::string> roles;
  for (const auto& e : list) roles[e.value("name", "")] = e.value("role", "");
  EXPECT_EQ(roles["alice"], "read-only");  // the default

  // read-only: GETs work; a POST is a 403 that says which role it needs.
  EXPECT_EQ(remote("alice", {"ls"}).status, 0);
  auto [status, body] = curl(tmp.path, "alice", "POST", url + "/v1/instances", R"({"name":"x","type":"vm","kernel":"/bin/true"})");
  EXPECT_EQ(status, "403") << body;
  EXPECT_NE(body.find("POST /v1/instances needs the operator role; this client certificate is read-only"), std::string::npos) << body;
  auto r = remote("alice", {"create", "--vm", "--name", "x", "--kernel", "/bin/true"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("needs the operator role"), std::string::npos) << r.err;
  r = remote("alice", {"trust", "ls"});
  EXPECT_NE(r.err.find("needs the admin role"), std::string::npos) << r.err;
  EXPECT_EQ(daemon.vessel_json({"ls", "-a", "--json"}).size(), 0u);

  // operator: the lifecycle, but not the trust store.
  ASSERT_EQ(::mkdir((tmp.path + "/allowed").c_str(), 0755), 0);
  ASSERT_TRUE(write_file(tmp.path + "/allowed/vmlinuz", "not a kernel"));
  r = remote("olivia", {"create", "--vm", "--name", "op1", "--kernel", tmp.path + "/allowed/vmlinuz"});
  EXPECT_EQ(r.status, 0) << r.err;
  std::tie(status, body) = curl(tmp.path, "olivia", "POST", url + "/v1/trust", json::Json{{"certificate", *read_file(tmp.path + "/mallory.crt")}}.dump());
  EXPECT_EQ(status, "403") << body;
  EXPECT_NE(body.find("needs the admin role; this client certificate is operator"), std::string::npos) << body;
  r = remote("olivia", {"trust", "add", tmp.path + "/mallory.crt", "--role", "admin"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(remote("mallory", {"ls"}).status, 1);  // not added
  EXPECT_EQ(remote("olivia", {"trust", "rm", "alice"}).status, 1);
  EXPECT_EQ(remote("olivia", {"rm", "op1"}).status, 0);

  // admin: the trust store too, and a role for the new entry.
  r = remote("adam", {"trust", "add", tmp.path + "/mallory.crt", "--role", "read-only"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(remote("mallory", {"ls"}).status, 0);
  EXPECT_EQ(remote("mallory", {"rm", "whatever"}).status, 1);
  EXPECT_EQ(remote("adam", {"trust", "rm", "alice"}).status, 0);
  EXPECT_EQ(remote("alice", {"ls"}).status, 1);
}

TEST_F(RemoteTls, HostPathsOfNonAdminsOnlyUnderAllowedPrefixesAfterResolving) {
  make_cert(tmp.path, "adam");
  ASSERT_EQ(daemon.vessel({"trust", "add", tmp.path + "/alice.crt", "--role", "operator"}).status, 0);
  ASSERT_EQ(daemon.vessel({"trust", "add", tmp.path + "/adam.crt", "--role", "admin"}).status, 0);
  std::string allowed = tmp.path + "/allowed";
  ASSERT_EQ(::mkdir(allowed.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((tmp.path + "/allowed-not").c_str(), 0755), 0);
  ASSERT_TRUE(write_file(allowed + "/vmlinuz", "k"));
  ASSERT_TRUE(write_file(tmp.path + "/allowed-not/vmlinuz", "k"));
  ASSERT_EQ(::symlink("/etc/passwd", (allowed + "/escape").c_str()), 0);
  ASSERT_EQ(::mkdir((allowed + "/rootfs").c_str(), 0755), 0);

  auto refused = [&](const std::vector<std::string>& args, const std::string& why) {
    auto r = remote("alice", args);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  };
  refused({"create", "--vm", "--name", "a", "--kernel", "/bin/true"}, "spec.kernel: /bin/true (resolved to /usr/bin/true) is not under an allowed host path");
  refused({"create", "--vm", "--name", "a", "--kernel", tmp.path + "/allowed-not/vmlinuz"}, "is not under an allowed host path");
  refused({"create", "--vm", "--name", "a", "--kernel", allowed + "/escape"}, "(resolved to /etc/passwd) is not under");
  refused({"create", "--vm", "--name", "a", "--kernel", allowed + "/../allowed-not/vmlinuz"}, "is not under an allowed host path");
  refused({"create", "--vm", "--name", "a", "--kernel", allowed + "/vmlinuz", "--initramfs", "/etc/hostname"}, "spec.initramfs");
  refused({"create", "--vm", "--name", "a", "--kernel", allowed + "/vmlinuz", "--disk", "/etc/shadow"}, "spec.disks[0].path");
  refused({"create", "--name", "c", "--rootfs", "/", "--", "/bin/sh"}, "spec.rootfs: / is not under an allowed host path");
  refused({"create", "--vm", "--name", "a", "--kernel", allowed + "/missing"}, "cannot be resolved");
  EXPECT_EQ(daemon.vessel_json({"ls", "-a", "--json"}).size(), 0u);

  // Under the prefix: accepted, and vesseld keeps the resolved path.
  ASSERT_EQ(::symlink((allowed + "/vmlinuz").c_str(), (allowed + "/current").c_str()), 0);
  auto r = remote("alice", {"create", "--vm", "--name", "inside", "--kernel", allowed + "/current"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = remote("alice", {"create", "--name", "ctr", "--rootfs", allowed + "/rootfs", "--", "/bin/sh"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto vm = daemon.vessel_json({"inspect", "inside"});
  EXPECT_EQ(vm.dump().find(allowed + "/current"), std::string::npos) << vm.dump();
  EXPECT_NE(vm.dump().find(allowed + "/vmlinuz"), std::string::npos) << vm.dump();

  // An admin certificate, like the Unix socket, may name any path.
  r = remote("adam", {"create", "--vm", "--name", "admins", "--kernel", "/bin/true"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(daemon.vessel({"create", "--vm", "--name", "locals", "--kernel", "/bin/true"}).status, 0);
}

TEST(RemoteTlsIdentity, KeptAcrossRestartsAndBadListenRefused) {
  TempDir tmp;
  std::string listen = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  std::string first;
  {
    Daemon d{tmp.path, {"--listen", listen}};
    ASSERT_TRUE(d.start()) << d.log();
    first = *read_file(d.state_dir() + "/tls/server.fingerprint");
    struct stat st;
    ASSERT_EQ(::stat((d.state_dir() + "/tls/server.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  {
    Daemon d{tmp.path, {"--listen", listen}};
    ASSERT_TRUE(d.start()) << d.log();
    EXPECT_EQ(*read_file(d.state_dir() + "/tls/server.fingerprint"), first);
  }
  TempDir tmp2;
  Daemon bad{tmp2.path, {"--listen", "127.0.0.1:8443"}};
  EXPECT_FALSE(bad.start());
  EXPECT_NE(bad.log().find("tcp://"), std::string::npos) << bad.log();
}

}  // namespace
}  // namespace vessel::test
