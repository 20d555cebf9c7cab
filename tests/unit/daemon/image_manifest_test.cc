// The typed parsers of manifest.json, index.json, the OCI manifest and the image config: a
// document of the wrong shape is an EINVAL error naming the field, never an exception.
#include "daemon/images/image_manifest.h"

#include <gtest/gtest.h>

namespace vessel::daemon {
namespace {

const std::string kHex(64, 'a');
const std::string kDigest = "sha256:" + kHex;

template <typename T>
void expect_error(const Result<T>& r, const std::string& says) {
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EINVAL) << r.error().to_string();
  EXPECT_NE(r.error().to_string().find(says), std::string::npos) << r.error().to_string();
}

TEST(ImageManifest, DockerManifest) {
  auto m = parse_docker_manifest(
      R"([{"Config":"c.json","RepoTags":["a:b"],"Layers":["l/layer.tar","m/layer.tar"]}])");
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->config, "c.json");
  EXPECT_EQ(m->layers, (std::vector<std::string>{"l/layer.tar", "m/layer.tar"}));
  expect_error(parse_docker_manifest(R"([{"Config":5,"Layers":[]}])"),
               "manifest.json[0].Config: expected a string, got number");
  expect_error(parse_docker_manifest(R"([{"Layers":[]}])"),
               "manifest.json[0].Config: required field is missing");
  expect_error(parse_docker_manifest(R"([{"Config":"c","Layers":"l.tar"}])"),
               "manifest.json[0].Layers: expected array, got string");
  expect_error(parse_docker_manifest(R"([{"Config":"c","Layers":[1]}])"),
               "manifest.json[0].Layers[0]: expected a string, got number");
  expect_error(parse_docker_manifest(R"({"Config":"c","Layers":[]})"),
               "expected an array of images, got object");
  expect_error(parse_docker_manifest(R"([[{"Config":"c"}]])"),
               "manifest.json[0]: expected an object, got array");
  expect_error(parse_docker_manifest("[]"), "lists no image");
  expect_error(parse_docker_manifest("[{"), "invalid JSON");
  expect_error(parse_docker_manifest(std::string(100, '[')), "nested deeper");
}

TEST(ImageManifest, OciIndexAndManifest) {
  auto index = parse_oci_index(
      R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      kDigest + R"("}]})");
  ASSERT_TRUE(index) << index.error().to_string();
  EXPECT_EQ(index->manifests, std::vector<std::string>{kHex});
  expect_error(parse_oci_index(R"({"manifests":[5]})"),
               "index.json.manifests[0]: expected an object, got number");
  expect_error(parse_oci_index(R"({"manifests":{"digest":"x"}})"),
               "index.json.manifests: expected array, got object");
  expect_error(parse_oci_index(R"({"manifests":[]})"), "lists no manifests");
  expect_error(parse_oci_index(R"({"manifests":[{"digest":7}]})"),
               "index.json.manifests[0].digest: expected a string, got number");
  expect_error(parse_oci_index(R"({"manifests":[{"digest":"md5:00"}]})"),
               "unsupported digest algorithm");
  expect_error(parse_oci_index(R"({"manifests":[{"digest":"sha256:../../etc/passwd"}]})"),
               "not a sha256 digest");
  EXPECT_EQ(
      parse_oci_index(
          R"({"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":")" +
          kDigest + R"("}]})")
          .error()
          .errnum(),
      ENOTSUP);

  auto m = parse_oci_manifest(R"({"config":{"digest":")" + kDigest + R"("},"layers":[{"digest":")" +
                              kDigest + R"("}]})");
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->config, kHex);
  EXPECT_EQ(m->layers.size(), 1u);
  expect_error(parse_oci_manifest(R"({"config":"x","layers":[]})"),
               "manifest.config: expected object, got string");
  expect_error(parse_oci_manifest(R"({"config":{"digest":")" + kDigest + R"("}})"),
               "manifest.layers: required field is missing");
  expect_error(parse_oci_manifest(R"({"config":{"digest":")" + kDigest + R"("},"layers":[[]]})"),
               "manifest.layers[0]: expected an object, got array");
  expect_error(parse_oci_manifest("5"), "manifest: expected an object, got number");
}

TEST(ImageManifest, ImageConfig) {
  auto c = parse_image_config(
      R"({"config":{"Entrypoint":["/bin/sh"],"Cmd":null,"Env":["A=1"],"WorkingDir":"/w"},"rootfs":{"type":"layers","diff_ids":[")" +
      kDigest + R"("]}})");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->entrypoint, std::vector<std::string>{"/bin/sh"});
  EXPECT_TRUE(c->cmd.empty());
  EXPECT_EQ(c->env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(c->workdir, "/w");
  EXPECT_EQ(c->diff_ids, std::vector<std::string>{kHex});
  EXPECT_TRUE(parse_image_config("{}"));
  expect_error(parse_image_config(R"({"rootfs":"x"})"),
               "image config.rootfs: expected object, got string");
  expect_error(parse_image_config(R"({"config":{"Cmd":"sh"}})"),
               "image config.config.Cmd: expected array, got string");
  expect_error(parse_image_config(R"({"config":{"Env":[1]}})"),
               "image config.config.Env[0]: expected a string, got number");
  expect_error(parse_image_config(R"({"config":{"WorkingDir":{}}})"),
               "image config.config.WorkingDir: expected a string, got object");
  expect_error(parse_image_config(R"({"rootfs":{"diff_ids":[1]}})"),
               "image config.rootfs.diff_ids[0]: expected a string, got number");
  expect_error(parse_image_config(R"({"rootfs":{"diff_ids":["sha256:zz"]}})"),
               "image config.rootfs.diff_ids[0]: not a sha256 digest");
  expect_error(parse_image_config("[]"), "image config: expected an object, got array");
}

TEST(ImageManifest, VolumesAreAbsolutePathsWithoutDotDot) {
  auto c = parse_image_config(R"({"config":{"Volumes":{"/var/lib/db":{},"/data/":{}}}})");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->volumes, (std::vector<std::string>{"/data/", "/var/lib/db"}));
  EXPECT_TRUE(parse_image_config(R"({"config":{"Volumes":null}})")->volumes.empty());
  expect_error(parse_image_config(R"({"config":{"Volumes":{"data":{}}}})"),
               "image config.config.Volumes: \"data\" is not an absolute path without \"..\"");
  EXPECT_FALSE(parse_image_config(R"({"config":{"Volumes":{"/a/../etc":{}}}})"));
  EXPECT_FALSE(parse_image_config(R"({"config":{"Volumes":{"/a/..":{}}}})"));
  EXPECT_FALSE(parse_image_config(R"({"config":{"Volumes":["/data"]}})"));
}

}  // namespace
}  // namespace vessel::daemon
