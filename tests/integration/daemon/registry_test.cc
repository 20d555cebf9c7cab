// vessel image pull against real registries on loopback: Debian's docker-registry (the reference
// distribution server; anonymous and htpasswd Basic auth) with skopeo as the oracle that pushes
// the images, and a fake registry in the test (fake_registry.h) for Bearer tokens and for what a
// hostile registry sends: wrong digests, truncated blobs, huge or malformed manifests, redirect
// loops, 401/403/429/5xx. After each failure the store is consistent and vesseld is up.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>

#include "daemon_fixture.h"
#include "fake_registry.h"
#include "free_tcp_port.h"
#include "base/fd.h"

namespace vessel::test {
namespace {

namespace fs = std::filesystem;

// docker-registry on a loopback port with its storage under `dir`; htpasswd auth when `user` is set.
class RealRegistry {
 public:
  RealRegistry(const std::string& dir, const std::string& user = "", const std::string& password = "") : port_(free_tcp_port()) {
    fs::create_directories(dir);
    std::string auth;
    if (!user.empty()) {
      auto h = run({"htpasswd", "-Bbc", dir + "/htpasswd", user, password});
      EXPECT_EQ(h.status, 0) << h.err;
      auth = "auth:\n  htpasswd:\n    realm: vessel-test\n    path: " + dir + "/htpasswd\n";
    }
    std::ofstream(dir + "/config.yml") << "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: "
                                       << dir << "/storage\n  delete:\n    enabled: true\nhttp:\n  addr: " << host() << "\n"
                                       << auth;
    SpawnOptions o;
    log_ = Fd::open(dir + "/registry.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644).value();
    o.stdout_fd = o.stderr_fd = log_.get();
    process_ = Process::spawn({"docker-registry", "serve", dir + "/config.yml"}, o).value();
    up_ = eventually([&] { return run({"curl", "-s", "-o", "/dev/null", "http://" + host() + "/v2/"}).status == 0; }, 200);
  }
  bool up() const { return up_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  Fd log_;
  Process process_;
  bool up_ = false;
};

// skopeo copy of a tag of an OCI layout to the registry (over plain HTTP).
CliResult skopeo_push(const std::string& layout, const std::string& tag, const std::string& dest, bool all = false,
                      const std::string& creds = "") {
  std::vector<std::string> argv{"skopeo", "copy", "--dest-tls-verify=false"};
  if (all) argv.push_back("--all");
  if (!creds.empty()) argv.insert(argv.end(), {"--dest-creds", creds});
  argv.insert(argv.end(), {"oci:" + layout + ":" + tag, "docker://" + dest});
  return run(argv, std::chrono::seconds(120));
}

// Two layers (busybox, then a file) and an image index (amd64 + arm64) in an OCI layout.
struct TestImages {
  explicit TestImages(const std::string& dir) : layout(dir + "/oci") {
    make_busybox_rootfs(dir + "/l1");
    fs::create_directories(dir + "/l2");
    std::ofstream(dir + "/l2/hello.txt") << "hello from layer 2\n";
    auto made = run({"python3", VESSEL_SOURCE_DIR "/tests/support/make_oci_layout.py", layout, "--tag", "bb", "--layer",
                     dir + "/l1", "--layer", dir + "/l2", "--cmd", R"(["/bin/cat","/hello.txt"])"});
    EXPECT_EQ(made.status, 0) << made.err;
    auto multi = run({"python3", VESSEL_SOURCE_DIR "/tests/support/make_oci_layout.py", layout, "--tag", "multi", "--layer",
                      dir + "/l1", "--cmd", R"(["/bin/echo","amd64 picked"])", "--also-arch", "arm64"});
    EXPECT_EQ(multi.status, 0) << multi.err;
  }
  std::string layout;
};

std::vector<json::Json> json_lines(const std::string& text) {
  std::vector<json::Json> out;
  size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    auto line = json::parse(text.substr(pos, nl - pos));
    if (line) out.push_back(*line);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

// Nothing half-written is visible: no partial layer directory, and every blob has its name's digest.
void expect_store_consistent(const Daemon& d) {
  std::string images = d.state_dir() + "/images";
  for (const auto& e : fs::directory_iterator(images + "/layers"))
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
  for (const auto& e : fs::directory_iterator(images + "/blobs/sha256")) {
    auto sum = run({"sha256sum", e.path().string()});
    EXPECT_EQ(sum.out.substr(0, 64), e.path().filename().string()) << "blob with the wrong content: " << e.path();
  }
}

TEST(Registry, PullFromTheReferenceRegistryAndRun) {
  ASSERT_EQ(run({"docker-registry", "--version"}).status, 0) << "docker-registry is not installed (scripts/packages.txt)";
  ASSERT_EQ(run({"skopeo", "--version"}).status, 0) << "skopeo is not installed (scripts/packages.txt)";
  TempDir tmp;
  TestImages images(tmp.path);
  RealRegistry registry(tmp.path + "/registry");
  ASSERT_TRUE(registry.up());
  std::string repo = registry.host() + "/team/bb";
  auto pushed = skopeo_push(images.layout, "bb", repo + ":1.0");
  ASSERT_EQ(pushed.status, 0) << pushed.err;
  auto pushed_multi = skopeo_push(images.layout, "multi", registry.host() + "/multi:latest", true);
  ASSERT_EQ(pushed_multi.status, 0) << pushed_multi.err;

  Daemon daemon(tmp.path);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  auto pulled = daemon.vessel({"image", "pull", "--json", repo + ":1.0"});
  ASSERT_EQ(pulled.status, 0) << pulled.err << daemon.log();
  auto lines = json_lines(pulled.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(pulled.out.ends_with("\n" + repo + ":1.0\n")) << pulled.out;  // progress lines, then the name
  bool downloaded = false;
  for (const auto& l : lines)
    if (l.is_object() && l.value("progress", "") == "download") downloaded = true;
  EXPECT_TRUE(downloaded) << pulled.out;
  auto info = daemon.vessel_json({"image", "inspect", repo + ":1.0"});
  EXPECT_EQ(info["info"]["layers"].size(), 2u) << info.dump();
  EXPECT_EQ(info["info"].value("format", ""), "registry");
  // skopeo's digest of the manifest is the image's.
  auto inspected = run({"skopeo", "inspect", "--tls-verify=false", "docker://" + repo + ":1.0"});
  ASSERT_EQ(inspected.status, 0) << inspected.err;
  EXPECT_EQ(json::parse(inspected.out)->value("Digest", ""), info.value("digest", ""));

  auto ran = daemon.vessel({"run", "--attach", "--name", "c1", repo + ":1.0"});
  EXPECT_EQ(ran.out, "c1\nhello from layer 2\n") << ran.err << daemon.log();

  // Again: both layers are in the store, nothing is downloaded.
  auto again = daemon.vessel({"image", "pull", "--json", repo + ":1.0"});
  ASSERT_EQ(again.status, 0) << again.err;
  for (const auto& l : json_lines(again.out)) {
    EXPECT_NE(l.is_object() ? l.value("progress", "") : "", "download") << again.out;
    if (l.is_object() && l.value("progress", "") == "done") {
      EXPECT_EQ(l.value("layers_present", 0), 2) << again.out;
    }
  }

  // By digest, and an index resolved to linux/amd64.
  std::string digest = info.value("digest", "");
  auto by_digest = daemon.vessel({"image", "pull", "-q", repo + "@" + digest});
  EXPECT_EQ(by_digest.status, 0) << by_digest.err;
  EXPECT_EQ(by_digest.out, repo + "@" + digest + "\n");
  auto multi = daemon.vessel({"run", "--attach", "--name", "m", registry.host() + "/multi"});  // pulled by run
  EXPECT_EQ(multi.out, "m\namd64 picked\n") << multi.err << daemon.log();
  EXPECT_EQ(daemon.vessel_json({"image", "ls", "--json"}).size(), 3u);

  // A tag to a new name; a reference the registry lacks.
  EXPECT_EQ(daemon.vessel({"image", "tag", repo + ":1.0", "mine"}).out, "mine\n");
  auto missing = daemon.vessel({"image", "pull", registry.host() + "/nothing:here"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("404"), std::string::npos) << missing.err;
  EXPECT_EQ(daemon.vessel({"run", "--pull", "never", "--name", "n", registry.host() + "/nothing:here"}).status, 1);

  ASSERT_EQ(daemon.vessel({"rm", "c1", "m"}).status, 0);
  for (const auto& name : {repo + ":1.0", repo + "@" + digest, std::string("mine"), registry.host() + "/multi:latest"})
    EXPECT_EQ(daemon.vessel({"image", "rm", name}).status, 0) << name;
  EXPECT_TRUE(fs::is_empty(daemon.state_dir() + "/images/layers"));
  EXPECT_TRUE(fs::is_empty(daemon.state_dir() + "/images/blobs/sha256"));
  expect_store_consistent(daemon);
}

TEST(Registry, PushSeenBySkopeo) {
  TempDir tmp;
  TestImages images(tmp.path);
  RealRegistry registry(tmp.path + "/registry");
  ASSERT_TRUE(registry.up());
  ASSERT_EQ(skopeo_push(images.layout, "bb", registry.host() + "/src/bb:1").status, 0);
  auto archived = run({"skopeo", "copy", "oci:" + images.layout + ":bb", "oci-archive:" + tmp.path + "/bb-oci.tar"});
  ASSERT_EQ(archived.status, 0) << archived.err;
  // Small chunks: the busybox layer goes up in PATCH chunks, the rest in one PUT each.
  Daemon daemon(tmp.path, {"--registry-upload-chunk", "65536"});
  ASSERT_TRUE(daemon.start()) << daemon.log();

  // An imported image: vessel makes its OCI manifest.
  ASSERT_EQ(daemon.vessel({"image", "import", "-q", tmp.path + "/bb-oci.tar", "--name", "local"}).status, 0);
  std::string dest = registry.host() + "/pushed/bb:2";
  auto pushed = daemon.vessel({"image", "push", "--json", "local", dest});
  ASSERT_EQ(pushed.status, 0) << pushed.err << daemon.log();
  auto result = json::parse(pushed.out.substr(pushed.out.rfind('{'))).value();
  auto seen = run({"skopeo", "inspect", "--tls-verify=false", "docker://" + dest});
  ASSERT_EQ(seen.status, 0) << seen.err;
  auto seen_json = json::parse(seen.out).value();
  EXPECT_EQ(seen_json.value("Digest", ""), result.value("digest", ""));
  EXPECT_EQ(seen_json["Layers"].size(), 2u);
  // skopeo copies it out (verifying every blob), and vessel pulls it back and runs it.
  auto copied = run({"skopeo", "copy", "--src-tls-verify=false", "docker://" + dest, "oci:" + tmp.path + "/copied:x"});
  EXPECT_EQ(copied.status, 0) << copied.err;
  EXPECT_EQ(daemon.vessel({"run", "--attach", "--name", "p", dest}).out, "p\nhello from layer 2\n");

  // Pushed again: the registry has every blob (HEAD).
  auto again = daemon.vessel({"image", "push", "--json", "local", dest});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(json::parse(again.out.substr(again.out.rfind('{'))).value().value("digest", ""), result.value("digest", ""));
  EXPECT_NE(again.out.find("\"skipped\":3"), std::string::npos) << again.out;

  // A pulled image pushed to another repository of its registry: its blobs are mounted, its
  // manifest (and so its digest) is the one it was pulled with.
  std::string src = registry.host() + "/src/bb:1";
  ASSERT_EQ(daemon.vessel({"image", "pull", "-q", src}).status, 0);
  auto mounted = daemon.vessel({"image", "push", "--json", src, registry.host() + "/other/bb:1"});
  ASSERT_EQ(mounted.status, 0) << mounted.err << daemon.log();
  EXPECT_NE(mounted.out.find("\"skipped\":3"), std::string::npos) << mounted.out;
  auto src_digest = daemon.vessel_json({"image", "inspect", src}).value("digest", "");
  EXPECT_EQ(json::parse(mounted.out.substr(mounted.out.rfind('{'))).value().value("digest", ""), src_digest);
  auto other = run({"skopeo", "inspect", "--tls-verify=false", "docker://" + registry.host() + "/other/bb:1"});
  EXPECT_EQ(json::parse(other.out).value().value("Digest", ""), src_digest) << other.err;
  // Push to a tagged name: `image tag` then `image push NAME`.
  ASSERT_EQ(daemon.vessel({"image", "tag", "local", registry.host() + "/tagged:3"}).status, 0);
  EXPECT_EQ(daemon.vessel({"image", "push", "-q", registry.host() + "/tagged:3"}).status, 0);
  EXPECT_EQ(run({"skopeo", "inspect", "--tls-verify=false", "docker://" + registry.host() + "/tagged:3"}).status, 0);
}

// podman with private storage and configuration under `dir` (as image_import_test.cc).
CliResult podman(const std::string& dir, std::vector<std::string> args) {
  if (!fs::exists(dir + "/storage.conf")) {
    std::ofstream(dir + "/storage.conf") << "[storage]\ndriver = \"vfs\"\nrunroot = \"" << dir << "/podman-run\"\ngraphroot = \""
                                         << dir << "/podman-graph\"\n";
    std::ofstream(dir + "/containers.conf") << "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
                                            << "events_logfile_path = \"" << dir << "/events.log\"\ntmp_dir = \"" << dir
                                            << "/podman-tmp\"\n";
  }
  std::vector<std::string> argv{"env", "CONTAINERS_CONF=" + dir + "/containers.conf",
                                "CONTAINERS_STORAGE_CONF=" + dir + "/storage.conf", "podman"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, std::chrono::seconds(300));
}

TEST(Registry, SavedImagesLoadAndRunInPodman) {
  TempDir tmp;
  TestImages images(tmp.path);
  RealRegistry registry(tmp.path + "/registry");
  ASSERT_TRUE(registry.up());
  std::string ref = registry.host() + "/bb:1";
  ASSERT_EQ(skopeo_push(images.layout, "bb", ref).status, 0);
  auto archived = run({"skopeo", "copy", "oci:" + images.layout + ":bb", "docker-archive:" + tmp.path + "/in.tar:imported:1"});
  ASSERT_EQ(archived.status, 0) << archived.err;
  Daemon daemon(tmp.path);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  ASSERT_EQ(daemon.vessel({"image", "pull", "-q", ref}).status, 0);
  ASSERT_EQ(daemon.vessel({"image", "import", "-q", tmp.path + "/in.tar", "--name", "imported"}).status, 0);
  std::string pd = tmp.path + "/podman";
  fs::create_directories(pd);
  struct Case {
    std::string image, format, file;
  };
  for (const Case& c : {Case{ref, "docker-archive", "pulled-docker.tar"}, Case{ref, "oci", "pulled-oci.tar"},
                        Case{"imported", "docker-archive", "imported-docker.tar"}, Case{"imported", "oci", "imported-oci.tar"}}) {
    std::string file = tmp.path + "/" + c.file;
    auto saved = daemon.vessel({"image", "save", "-o", file, "--format", c.format, c.image});
    ASSERT_EQ(saved.status, 0) << c.file << ": " << saved.err << daemon.log();
    auto loaded = podman(pd, {"load", "-q", "-i", file});
    ASSERT_EQ(loaded.status, 0) << c.file << ": " << loaded.err;
    // "Loaded image: NAME" (podman 4), possibly several lines.
    std::string name = loaded.out.substr(loaded.out.rfind(": ") + 2);
    name = name.substr(0, name.find('\n'));
    // runc: crun refuses this machine's hybrid cgroups; the ulimits: podman's default is above the hard limit here.
    auto ran = podman(pd, {"--runtime", "runc", "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024",
                           "--ulimit", "nproc=1024:1024", name});
    EXPECT_EQ(ran.out, "hello from layer 2\n") << c.file << " (" << name << "): " << ran.err;
    EXPECT_EQ(podman(pd, {"rmi", "-f", name}).status, 0);
  }
  (void)podman(pd, {"system", "reset", "-f"});
  auto missing = daemon.vessel({"image", "save", "-o", tmp.path + "/x.tar", "nothing"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_FALSE(fs::exists(tmp.path + "/x.tar"));
  EXPECT_FALSE(fs::exists(tmp.path + "/x.tar.partial"));
}

TEST(Registry, BasicAuthLoginAndLogout) {
  TempDir tmp;
  TestImages images(tmp.path);
  RealRegistry registry(tmp.path + "/registry", "alice", "s3cret");
  ASSERT_TRUE(registry.up());
  ASSERT_EQ(skopeo_push(images.layout, "bb", registry.host() + "/bb:latest", false, "alice:s3cret").status, 0);
  // The CLI reads and writes the Docker config under this test's own directory.
  ::setenv("DOCKER_CONFIG", (tmp.path + "/docker").c_str(), 1);
  ::unsetenv("REGISTRY_AUTH_FILE");
  ::unsetenv("XDG_RUNTIME_DIR");
  Daemon daemon(tmp.path);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  auto anonymous = daemon.vessel({"image", "pull", "-q", registry.host() + "/bb"});
  EXPECT_EQ(anonymous.status, 1);
  EXPECT_NE(anonymous.err.find("vessel login " + registry.host()), std::string::npos) << anonymous.err;
  auto wrong = daemon.vessel({"login", registry.host(), "-u", "alice", "-p", "wrong"});
  EXPECT_EQ(wrong.status, 1);
  EXPECT_FALSE(fs::exists(tmp.path + "/docker/config.json"));
  auto login = daemon.vessel({"login", registry.host(), "-u", "alice", "-p", "s3cret"});
  ASSERT_EQ(login.status, 0) << login.err << daemon.log();
  // Docker's format: skopeo reads it.
  auto config = json::parse(*read_file(tmp.path + "/docker/config.json")).value();
  EXPECT_EQ(config["auths"][registry.host()]["auth"], "YWxpY2U6czNjcmV0");
  auto seen_by_skopeo = run({"skopeo", "inspect", "--tls-verify=false", "--authfile", tmp.path + "/docker/config.json",
                             "docker://" + registry.host() + "/bb"});
  EXPECT_EQ(seen_by_skopeo.status, 0) << seen_by_skopeo.err;
  auto pulled = daemon.vessel({"image", "pull", "-q", registry.host() + "/bb"});
  EXPECT_EQ(pulled.status, 0) << pulled.err << daemon.log();
  EXPECT_EQ(daemon.vessel({"logout", registry.host()}).status, 0);
  EXPECT_EQ(daemon.vessel({"logout", registry.host()}).status, 1);
  ::unsetenv("DOCKER_CONFIG");
}

// A registry of the test's own: serves the OCI layout's blobs, Bearer tokens from its realm, and
// for some repositories, hostile answers.
class Hostile {
 public:
  explicit Hostile(const std::string& layout) : layout_(layout), server_([this](const FakeRequest& r, int fd) { return answer(r, fd); }) {
    auto index = json::parse(*read_file(layout + "/index.json"));
    for (const auto& m : (*index)["manifests"])
      if (m["annotations"]["org.opencontainers.image.ref.name"] == "bb") manifest_digest_ = m["digest"];
    manifest_ = blob(manifest_digest_);
    auto m = json::parse(manifest_).value();
    layer_digest_ = m["layers"][0]["digest"];
    other_layer_ = m["layers"][1]["digest"];
  }
  std::string host() const { return server_.host(); }
  std::vector<std::string> seen() { return server_.seen(); }
  std::atomic<int> blob_requests{0};

 private:
  std::string blob(const std::string& digest) const { return *read_file(layout_ + "/blobs/sha256/" + digest.substr(7)); }

  std::string answer(const FakeRequest& r, int fd) {
    const std::string ct = "Content-Type: application/vnd.oci.image.manifest.v1+json";
    if (r.path == "/token") return FakeRegistry::answer(200, R"({"token":"t0ken"})");
    std::string auth = "WWW-Authenticate: Bearer realm=\"http://" + host() + "/token\",service=\"fake\"";
    if (r.header("authorization") != "Bearer t0ken") return FakeRegistry::answer(401, "{}", {auth});
    if (r.path == "/v2/") return FakeRegistry::answer(200, "{}");
    auto repo_end = r.path.find('/', 4);
    std::string repo = r.path.substr(4, repo_end - 4), rest = r.path.substr(repo_end);
    bool manifest = rest.starts_with("/manifests/");
    std::string digest = rest.substr(rest.rfind('/') + 1);
    if (repo == "denied") return FakeRegistry::answer(403, R"({"errors":[{"code":"DENIED","message":"no"}]})");
    if (repo == "broken") return FakeRegistry::answer(500, "oops");
    if (repo == "loop") return FakeRegistry::answer(302, "", {"Location: http://" + host() + r.path});
    if (repo == "busy" && busy_left_-- > 0) {
      return FakeRegistry::answer(429, "", {"Retry-After: 1"});
    }
    if (manifest) {
      if (repo == "malformed") return FakeRegistry::answer(200, "{\"schemaVersion\":2,", {ct});
      if (repo == "huge") return FakeRegistry::answer(200, std::string(10 << 20, ' '), {ct});
      if (repo == "lying") return FakeRegistry::answer(200, manifest_, {ct, "Docker-Content-Digest: sha256:" + std::string(64, '0')});
      return FakeRegistry::answer(200, manifest_, {ct});
    }
    ++blob_requests;
    std::string data = blob(digest);
    if (repo == "wrongdigest" && digest == layer_digest_) data = blob(other_layer_).substr(0, data.size());
    if (repo == "wrongdigest" && digest == layer_digest_ && data.size() < blob(digest).size())
      data += std::string(blob(digest).size() - data.size(), 'x');
    bool cut = (repo == "truncated" && digest == layer_digest_ && !cut_once_) || (repo == "cutoff" && digest == layer_digest_);
    std::string range = r.header("range");
    if (!range.empty() && repo == "truncated") {
      size_t from = std::stoul(range.substr(6));
      resumed_from_ = from;
      return FakeRegistry::answer(206, data.substr(from),
                                  {"Content-Range: bytes " + std::to_string(from) + "-" + std::to_string(data.size() - 1) + "/" +
                                   std::to_string(data.size())});
    }
    if (cut) {
      if (repo == "truncated") cut_once_ = true;
      std::string whole = FakeRegistry::answer(200, data);
      FakeRegistry::send_all(fd, whole.substr(0, whole.size() - data.size() / 2));
      return "";
    }
    return FakeRegistry::answer(200, data);
  }

  std::string layout_;
  std::string manifest_digest_, manifest_, layer_digest_, other_layer_;
  std::atomic<int> busy_left_{2};
  std::atomic<bool> cut_once_{false};

 public:
  std::atomic<size_t> resumed_from_{0};

 private:
  FakeRegistry server_;  // last: its threads stop before the members they read
};

TEST(Registry, BearerTokensAndHostileRegistries) {
  TempDir tmp;
  TestImages images(tmp.path);
  Hostile hostile(images.layout);
  Daemon daemon(tmp.path);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  std::string h = hostile.host();

  // Bearer: the first request is answered 401, the token comes from the realm.
  auto ok = daemon.vessel({"image", "pull", "-q", h + "/good:1"});
  ASSERT_EQ(ok.status, 0) << ok.err << daemon.log();
  EXPECT_EQ(daemon.vessel({"run", "--attach", "--name", "g", h + "/good:1"}).out, "g\nhello from layer 2\n");
  ASSERT_EQ(daemon.vessel({"rm", "g"}).status, 0);
  ASSERT_EQ(daemon.vessel({"image", "rm", h + "/good:1"}).status, 0);

  // A blob cut off half-way is resumed with a Range request.
  auto resumed = daemon.vessel({"image", "pull", "-q", h + "/truncated:1"});
  EXPECT_EQ(resumed.status, 0) << resumed.err << daemon.log();
  EXPECT_GT(hostile.resumed_from_, 0u);
  EXPECT_EQ(daemon.vessel({"image", "rm", h + "/truncated:1"}).status, 0);
  // 429 twice (Retry-After) then served.
  auto busy = daemon.vessel({"image", "pull", "-q", h + "/busy:1"});
  EXPECT_EQ(busy.status, 0) << busy.err << daemon.log();
  EXPECT_EQ(daemon.vessel({"image", "rm", h + "/busy:1"}).status, 0);

  struct Case {
    std::string repo, says;
  };
  // cutoff leaves a partial blob (for a resume); wrongdigest then resumes it, gets the wrong data
  // and must delete it.
  for (const Case& c : {Case{"cutoff", "broke off"}, Case{"wrongdigest", "refused"}, Case{"malformed", "manifest"},
                        Case{"huge", "larger than"}, Case{"lying", "refused"}, Case{"loop", "redirect"},
                        Case{"denied", "403"}, Case{"broken", "500"}}) {
    auto r = daemon.vessel({"image", "pull", "-q", h + "/" + c.repo + ":1"});
    EXPECT_EQ(r.status, 1) << c.repo;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.repo << ": " << r.err;
    EXPECT_TRUE(alive(daemon.pid())) << c.repo;
  }
  EXPECT_TRUE(daemon.vessel_json({"image", "ls", "--json"}).empty());
  expect_store_consistent(daemon);
  // The wrong blob was not kept for a resume.
  for (const auto& e : fs::directory_iterator(daemon.state_dir() + "/images/tmp"))
    EXPECT_EQ(e.path().filename().string().find("pull-"), std::string::npos) << e.path();
}


// The issue's workflow: pull from a registry on loopback, build FROM that image (ARG, ENV, COPY,
// RUN, WORKDIR, CMD), run the result, push it where skopeo sees it, save it for podman.
TEST(Registry, BuiltImageRunsPushesAndLoadsInPodman) {
  TempDir tmp;
  TestImages images(tmp.path);
  RealRegistry registry(tmp.path + "/registry");
  ASSERT_TRUE(registry.up());
  std::string base = registry.host() + "/base/bb:1";
  ASSERT_EQ(skopeo_push(images.layout, "bb", base).status, 0);
  Daemon daemon(tmp.path);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  ASSERT_EQ(daemon.vessel({"image", "pull", "-q", base}).status, 0) << daemon.log();
  std::string ctx = tmp.path + "/ctx";
  fs::create_directories(ctx);
  std::ofstream(ctx + "/Dockerfile") << "FROM " << base << "\nARG WHO=nobody\nENV GREETING=hello\nWORKDIR /srv\n"
                                     << "COPY note.txt .\nRUN echo \"$GREETING $WHO\" > made.txt\n"
                                     << "CMD [\"/bin/cat\", \"/hello.txt\", \"note.txt\", \"made.txt\"]\n";
  std::ofstream(ctx + "/note.txt") << "a note\n";
  std::string built = registry.host() + "/built/app:1";
  auto b = daemon.vessel({"build", "-t", built, "--build-arg", "WHO=vessel", ctx});
  ASSERT_EQ(b.status, 0) << b.err << daemon.log();
  const std::string expected = "hello from layer 2\na note\nhello vessel\n";
  auto ran = daemon.vessel({"run", "-a", "--rm", built});
  EXPECT_EQ(ran.out.substr(ran.out.find('\n') + 1), expected) << ran.err;
  auto pushed = daemon.vessel({"image", "push", "-q", built});
  ASSERT_EQ(pushed.status, 0) << pushed.err << daemon.log();
  auto seen = run({"skopeo", "inspect", "--tls-verify=false", "docker://" + built});
  ASSERT_EQ(seen.status, 0) << seen.err;
  auto j = json::parse(seen.out).value();
  EXPECT_EQ(j["Layers"].size(), 5u) << seen.out;  // the base's 2, then WORKDIR (made /srv), COPY, RUN
  auto config = json::parse(run({"skopeo", "inspect", "--config", "--tls-verify=false", "docker://" + built}).out).value();
  EXPECT_EQ(config["config"].value("WorkingDir", ""), "/srv") << config.dump();
  EXPECT_EQ(config["rootfs"]["diff_ids"].size(), j["Layers"].size());
  std::string file = tmp.path + "/built.tar";
  ASSERT_EQ(daemon.vessel({"image", "save", "-o", file, built}).status, 0);
  std::string pd = tmp.path + "/podman";
  fs::create_directories(pd);
  auto loaded = podman(pd, {"load", "-q", "-i", file});
  ASSERT_EQ(loaded.status, 0) << loaded.err;
  std::string name = loaded.out.substr(loaded.out.rfind(": ") + 2);
  name = name.substr(0, name.find('\n'));
  auto in_podman = podman(pd, {"--runtime", "runc", "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024",
                               "--ulimit", "nproc=1024:1024", name});
  EXPECT_EQ(in_podman.out, expected) << in_podman.err;
  (void)podman(pd, {"system", "reset", "-f"});
}

}  // namespace
}  // namespace vessel::test
