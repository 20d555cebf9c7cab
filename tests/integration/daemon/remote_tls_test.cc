// vesseld over TCP with TLS client certificates, through the real CLI: trusted clients get the
// API, untrusted or certificate-less ones a 403, plain HTTP and a wrong server fingerprint fail.
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "base/fd.h"
#include "daemon_fixture.h"

namespace vessel::test {
namespace {

int test_port() { return 20000 + ::getpid() % 20000; }

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
  std::string url = "https://127.0.0.1:" + std::to_string(test_port());
  Daemon daemon{tmp.path, {"--listen", "tcp://127.0.0.1:" + std::to_string(test_port())}};
  std::string fingerprint;
};

TEST_F(RemoteTls, TrustedClientListsInstancesUntrustedIsRefused) {
  ASSERT_EQ(daemon.vessel({"create", "--vm", "--name", "remote1", "--kernel", "/bin/true"}).status, 0) << daemon.log();

  // Not yet trusted: a clear 403 from vesseld with what to do.
  auto r = remote("alice", {"ls"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is not trusted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vessel trust add"), std::string::npos) << r.err;

  auto added = daemon.vessel({"trust", "add", tmp.path + "/alice.crt", "--name", "alice"});
  ASSERT_EQ(added.status, 0) << added.err;
  std::string alice_fp = added.out.substr(0, added.out.find('\n'));
  EXPECT_EQ(alice_fp.size(), 64u);
  auto list = daemon.vessel_json({"trust", "ls", "--json"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].value("name", ""), "alice");
  EXPECT_EQ(list[0].value("fingerprint", ""), alice_fp);

  r = remote("alice", {"ls", "--json"});
  ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  auto instances = json::parse(r.out);
  ASSERT_TRUE(instances && instances->is_array()) << r.out;
  ASSERT_EQ(instances->size(), 1u);
  EXPECT_EQ((*instances)[0].value("name", ""), "remote1");
  // Writes work too, and are the same daemon's.
  ASSERT_EQ(remote("alice", {"rm", "remote1"}).status, 0);
  EXPECT_EQ(daemon.vessel_json({"ls", "--json"}).size(), 0u);

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
  ASSERT_EQ(daemon.vessel({"trust", "add", tmp.path + "/alice.crt"}).status, 0);
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
  std::string port = std::to_string(test_port());
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
  std::string port = std::to_string(test_port());
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

TEST(RemoteTlsIdentity, KeptAcrossRestartsAndBadListenRefused) {
  TempDir tmp;
  std::string listen = "tcp://127.0.0.1:" + std::to_string(test_port() + 1);
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
