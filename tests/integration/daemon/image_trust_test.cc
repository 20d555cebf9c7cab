// Hostile and malformed image archives against a real vesseld: a malformed manifest is a clear
// error to the client and the daemon stays up; a layer that plants a symlink and then writes,
// whites out or hardlinks through it reaches nothing on the host.
#include <sys/stat.h>
#include <sys/xattr.h>

#include <filesystem>
#include <fstream>

#include "http/http.h"
#include "daemon_fixture.h"
#include "tar_builder.h"

namespace vessel::test {
namespace {

namespace fs = std::filesystem;

std::string sha256(const std::string& path) {
  auto r = run({"sha256sum", path});
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out.substr(0, 64);
}

// A docker-archive of one layer; the manifest and config are as given, or correct when empty.
std::string docker_archive(const std::string& dir, const std::string& name,
                           const std::string& layer, std::string manifest = "",
                           std::string config = "") {
  std::string layer_path = dir + "/" + name + ".layer.tar";
  std::ofstream(layer_path, std::ios::binary) << layer;
  if (config.empty())
    config = R"({"config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:)" +
             sha256(layer_path) + "\"]}}";
  if (manifest.empty()) manifest = R"([{"Config":"c.json","Layers":["l.tar"]}])";
  std::string path = dir + "/" + name + ".tar";
  std::ofstream(path, std::ios::binary)
      << make_tar({file("manifest.json", manifest), file("c.json", config), file("l.tar", layer)});
  return path;
}

http::ClientResponse post_image(const Daemon& d, const std::string& name,
                                const std::string& archive, bool progress) {
  http::ClientOptions o;
  o.unix_socket = d.socket();
  json::Json body = {{"name", name}, {"archive", archive}};
  auto r = http::request(
      o, "POST", std::string("http://localhost/v1/images") + (progress ? "?progress=1" : ""),
      body.dump());
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().to_string());
  return r ? *r : http::ClientResponse{};
}

TEST(ImageTrust, MalformedManifestIsAClearErrorAndTheDaemonStaysUp) {
  TempDir tmp;
  Daemon daemon(tmp.path);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  std::string layer = make_tar({file("hello", "hi")});
  struct Case {
    std::string name, manifest, config, says;
  };
  std::vector<Case> cases = {
      {"number", R"([{"Config":5,"Layers":["l.tar"]}])", "",
       "manifest.json[0].Config: expected a string, got number"},
      {"missing", R"([{"Config":"c.json"}])", "",
       "manifest.json[0].Layers: required field is missing"},
      {"nesting", R"({"Config":"c.json","Layers":["l.tar"]})", "",
       "manifest.json: expected an array of images, got object"},
      {"layers", R"([{"Config":"c.json","Layers":[{"path":"l.tar"}]}])", "",
       "manifest.json[0].Layers[0]: expected a string, got object"},
      {"rootfs", "", R"({"rootfs":"layers"})", "image config.rootfs: expected object, got string"},
      {"cmd", "", R"({"config":{"Cmd":"sh"},"rootfs":{"diff_ids":[]}})",
       "image config.config.Cmd: expected array, got string"},
  };
  for (const auto& c : cases) {
    std::string archive = docker_archive(tmp.path, c.name, layer, c.manifest, c.config);
    // The CLI takes the streamed path (a progress thread in vesseld).
    auto cli = daemon.vessel({"image", "import", "-q", archive, "--name", c.name});
    EXPECT_EQ(cli.status, 1) << c.name << ": " << cli.out << cli.err;
    EXPECT_NE(cli.err.find(c.says), std::string::npos) << c.name << ": " << cli.err;
    ASSERT_TRUE(alive(daemon.pid())) << "vesseld died on " << c.name << ":\n" << daemon.log();
    // The plain request: 400 with the same words.
    auto plain = post_image(daemon, c.name, archive, false);
    EXPECT_EQ(plain.status, 400) << c.name << ": " << plain.body;
    EXPECT_NE(plain.body.find(c.says), std::string::npos) << c.name << ": " << plain.body;
    ASSERT_TRUE(alive(daemon.pid())) << "vesseld died on " << c.name << ":\n" << daemon.log();
  }
  // Still answering, and a good image still imports.
  EXPECT_TRUE(daemon.vessel_json({"image", "ls", "--json"}).empty());
  auto good = daemon.vessel(
      {"image", "import", "-q", docker_archive(tmp.path, "good", layer), "--name", "good"});
  EXPECT_EQ(good.status, 0) << good.err << daemon.log();
  EXPECT_EQ(daemon.vessel_json({"image", "ls", "--json"}).size(), 1u);
  EXPECT_EQ(daemon.log().find("terminate called"), std::string::npos) << daemon.log();
}

TEST(ImageTrust, HostileLayersReachNothingOnTheHost) {
  TempDir tmp;
  std::string host = tmp.path + "/host";
  fs::create_directories(host);
  std::string secret = host + "/secret";
  auto intact = [&] {
    std::ifstream in(secret);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    struct stat st;
    return text == "host data" && ::lstat(secret.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           st.st_nlink == 1;
  };
  std::ofstream(secret) << "host data";
  Daemon daemon(tmp.path);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  struct Case {
    std::string name;
    std::vector<TarEntry> layer;
  };
  std::vector<Case> cases = {
      {"whiteout", {symlink("x", host), file("x/.wh.secret", "")}},
      {"whiteout-relative",
       {symlink("x", "../../../../../../../../.." + host), file("x/.wh.secret", "")}},
      {"opaque", {symlink("x", host), file("x/.wh..wh..opq", "")}},
      {"write", {symlink("x", host), file("x/secret", "overwritten"), file("x/planted", "evil")}},
      {"hardlink", {hardlink("h", secret)}},
      {"hardlink-through", {symlink("x", host), hardlink("h", "x/secret")}},
  };
  for (const auto& c : cases) {
    auto r = daemon.vessel({"image", "import", "-q",
                            docker_archive(tmp.path, c.name, make_tar(c.layer)), "--name", c.name});
    // Refused, or confined inside the layer: either way the host file is untouched.
    EXPECT_TRUE(intact()) << c.name << " reached " << secret << " (import exit " << r.status << ": "
                          << r.err << ")";
    EXPECT_FALSE(fs::exists(host + "/planted")) << c.name;
    char value[8];
    EXPECT_LT(::getxattr(host.c_str(), "trusted.overlay.opaque", value, sizeof value), 0) << c.name;
    ASSERT_TRUE(alive(daemon.pid())) << daemon.log();
    // Each case on its own victim, should one have got through.
    fs::remove(secret);
    ::removexattr(host.c_str(), "trusted.overlay.opaque");
    std::ofstream(secret) << "host data";
  }
  EXPECT_EQ(daemon.vessel({"image", "ls"}).status, 0);
}

}  // namespace
}  // namespace vessel::test
