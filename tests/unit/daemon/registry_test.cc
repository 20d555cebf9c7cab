// The registry client's parsers: references, WWW-Authenticate challenges, manifests and
// indexes, and the credential files (the network parts run against real registries in
// tests/integration/daemon/registry_test.cc).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "daemon/images/image_reference.h"
#include "daemon/images/registry_manifest.h"
#include "daemon/images/www_authenticate.h"
#include "base/base64.h"
#include "http/registry_credentials.h"

namespace vessel::daemon {
namespace {

const std::string kHex(64, 'a');
const std::string kHex2(64, 'b');

TEST(ImageReference, DockerDefaults) {
  auto r = parse_image_reference("busybox");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->to_string(), "docker.io/library/busybox:latest");
  EXPECT_EQ(r->api_host(), "registry-1.docker.io");
  EXPECT_EQ(parse_image_reference("alice/app:1.0")->to_string(), "docker.io/alice/app:1.0");
  auto local = parse_image_reference("localhost:5000/team/app");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->domain, "localhost:5000");
  EXPECT_EQ(local->repository, "team/app");
  EXPECT_EQ(local->manifest_ref(), "latest");
  auto pinned = parse_image_reference("127.0.0.1:5000/app@sha256:" + kHex);
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->tag, "");
  EXPECT_EQ(pinned->manifest_ref(), "sha256:" + kHex);
  EXPECT_EQ(pinned->to_string(), "127.0.0.1:5000/app@sha256:" + kHex);
}

TEST(ImageReference, RefusesWhatDockerRefuses) {
  for (const std::string& bad : std::vector<std::string>{"", "UPPER/case", "app:", "app:-x", "a//b", "/app", "app@sha256:123", "app@md5:" + kHex,
                          "ex ample/app", "a..b/c", "-app"})
    EXPECT_FALSE(parse_image_reference(bad)) << bad;
}

TEST(ImageReference, Loopback) {
  EXPECT_TRUE(is_loopback_registry("localhost:5000"));
  EXPECT_TRUE(is_loopback_registry("127.0.0.1:5000"));
  EXPECT_TRUE(is_loopback_registry("127.3.2.1"));
  EXPECT_TRUE(is_loopback_registry("[::1]:5000"));
  EXPECT_FALSE(is_loopback_registry("10.0.0.1:5000"));
  EXPECT_FALSE(is_loopback_registry("localhost.example:5000"));
}

TEST(WwwAuthenticate, BearerAndBasic) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull")");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->param("realm"), "https://auth.example/token");
  EXPECT_EQ(c->param("service"), "registry.example");
  EXPECT_EQ(c->param("scope"), "repository:a/b:pull");
  auto b = parse_www_authenticate(R"(Basic realm="Registry \"Realm\"")");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->scheme, "basic");
  EXPECT_EQ(b->param("realm"), "Registry \"Realm\"");
  EXPECT_EQ(parse_www_authenticate("Bearer realm=x, Basic realm=y")->param("realm"), "x");
  for (const char* bad : {"", "  ", "Bearer realm=\"open", "Bearer =x", "Bearer realm=x;y=z"})
    EXPECT_FALSE(parse_www_authenticate(bad)) << bad;
}

std::string manifest_json(const std::string& type, const std::string& layer_type = std::string(media::kOciLayerGzip)) {
  return R"({"schemaVersion":2,"mediaType":")" + type + R"(","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
         kHex + R"(","size":100},"layers":[{"mediaType":")" + layer_type + R"(","digest":"sha256:)" + kHex2 +
         R"(","size":2000}]})";
}

TEST(RegistryManifest, ImageManifests) {
  auto m = parse_registry_manifest(manifest_json(std::string(media::kOciManifest)), "");
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_FALSE(m->is_index);
  EXPECT_EQ(m->config.hex, kHex);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 2000u);
  // Docker's schema 2, typed by the Content-Type alone.
  std::string docker = manifest_json(std::string(media::kDockerManifest), std::string(media::kDockerLayerGzip));
  docker.replace(docker.find("\"mediaType\""), std::string("\"mediaType\":\"" + std::string(media::kDockerManifest) + "\",").size(), "");
  EXPECT_TRUE(parse_registry_manifest(docker, std::string(media::kDockerManifest) + "; charset=utf-8"));
}

TEST(RegistryManifest, IndexResolvesToLinuxAmd64) {
  std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + kHex + R"(","size":10,"platform":{"os":"linux","architecture":"arm64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + kHex2 + R"(","size":11,"platform":{"os":"linux","architecture":"amd64"}}]})";
  auto m = parse_registry_manifest(index, "");
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_TRUE(m->is_index);
  EXPECT_EQ(m->platform_manifest.hex, kHex2);
  auto none = parse_registry_manifest(index, "", "linux", "s390x");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().errnum(), ENOENT);
  EXPECT_NE(none.error().hint().find("linux/arm64"), std::string::npos) << none.error().hint();
}

TEST(RegistryManifest, RefusesMalformedAndUnsupported) {
  EXPECT_EQ(parse_registry_manifest(R"({"schemaVersion":1,"fsLayers":[]})", "").error().errnum(), ENOTSUP);
  EXPECT_EQ(parse_registry_manifest(manifest_json(std::string(media::kOciManifest), "application/x-helm"), "").error().errnum(), ENOTSUP);
  EXPECT_EQ(parse_registry_manifest("[1,2]", "").error().errnum(), EINVAL);
  EXPECT_EQ(parse_registry_manifest("{not json", "").error().errnum(), EINVAL);
  std::string bad_digest = manifest_json(std::string(media::kOciManifest));
  bad_digest.replace(bad_digest.find(kHex2), 64, "zz");
  EXPECT_EQ(parse_registry_manifest(bad_digest, "").error().errnum(), EINVAL);
  std::string negative = manifest_json(std::string(media::kOciManifest));
  negative.replace(negative.find("2000"), 4, "-5");
  EXPECT_FALSE(parse_registry_manifest(negative, ""));
  EXPECT_EQ(parse_registry_manifest(std::string(5 << 20, ' '), "").error().errnum(), E2BIG);
}

TEST(RegistryCredentials, Base64) {
  EXPECT_EQ(base64_encode("alice:s3cret"), "YWxpY2U6czNjcmV0");
  EXPECT_EQ(base64_encode("a"), "YQ==");
  EXPECT_EQ(base64_encode("ab"), "YWI=");
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "user:pa:ss\xff"}) EXPECT_EQ(*base64_decode(base64_encode(s)), s);
  EXPECT_FALSE(base64_decode("YQ="));
  EXPECT_FALSE(base64_decode("Y=Q="));
  EXPECT_FALSE(base64_decode("YQ!="));
}

TEST(RegistryCredentials, DockerConfigRoundTrip) {
  auto dir = std::filesystem::temp_directory_path() / ("vessel-creds-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string file = (dir / "config.json").string();
  std::ofstream(file) << R"({"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnB3"}},"credsStore":"x"})";
  ::setenv("REGISTRY_AUTH_FILE", file.c_str(), 1);
  auto hub = http::find_credentials("docker.io");
  ASSERT_TRUE(hub && *hub);
  EXPECT_EQ((*hub)->username, "hub");
  EXPECT_EQ((*hub)->password, "pw");
  ASSERT_TRUE(http::store_credentials(file, "localhost:5000", http::Credentials{"alice", "s3:cret"}));
  auto local = http::find_credentials("localhost:5000");
  ASSERT_TRUE(local && *local);
  EXPECT_EQ((*local)->password, "s3:cret");
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ASSERT_TRUE(http::store_credentials(file, "localhost:5000", std::nullopt));
  EXPECT_FALSE(*http::find_credentials("localhost:5000"));
  EXPECT_EQ(http::store_credentials(file, "localhost:5000", std::nullopt).error().errnum(), ENOENT);
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("credsStore"), std::string::npos) << "other keys are kept";
  std::ofstream(file) << "{broken";
  EXPECT_FALSE(http::find_credentials("docker.io"));
  ::unsetenv("REGISTRY_AUTH_FILE");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vessel::daemon
