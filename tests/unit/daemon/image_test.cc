// Image import from hand-made docker-archive and OCI-layout tarballs (no podman needed).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "base/fd.h"
#include "daemon/images/archive_import.h"
#include "daemon/images/image_store.h"
#include "daemon/images/layer_unpack.h"
#include "daemon/images/sha256.h"
#include "tar_builder.h"
#include "temp_dir.h"

namespace vessel::daemon {
namespace {

namespace fs = std::filesystem;

// A tar (in memory) of name -> content; names ending in '/' are directories.
std::string make_tar(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<test::TarEntry> entries;
  for (const auto& [name, content] : files)
    entries.push_back(!name.empty() && name.back() == '/' ? test::dir(name) : test::file(name, content));
  return test::make_tar(entries);
}

std::string write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
  return path;
}

struct Oci {
  std::string tar;
  std::string layer_hex;
};

Oci make_oci(const std::string& layer, bool corrupt_layer = false) {
  std::string lhex = sha256_hex(layer);
  std::string config = R"({"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin","A=1"],"WorkingDir":"/w"},"rootfs":{"type":"layers","diff_ids":["sha256:)" + lhex + "\"]}}";
  std::string chex = sha256_hex(config);
  std::string manifest = R"({"schemaVersion":2,"config":{"digest":"sha256:)" + chex + R"(","size":1},"layers":[{"digest":"sha256:)" + lhex + R"(","size":1}]})";
  std::string mhex = sha256_hex(manifest);
  std::string index = R"({"schemaVersion":2,"manifests":[{"digest":"sha256:)" + mhex + R"(","size":1}]})";
  return {make_tar({{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"}, {"index.json", index}, {"blobs/", ""},
                    {"blobs/sha256/", ""}, {"blobs/sha256/" + mhex, manifest}, {"blobs/sha256/" + chex, config},
                    {"blobs/sha256/" + lhex, corrupt_layer ? layer + "!" : layer}}),
          lhex};
}

TEST(ImageImport, OciLayoutIsVerifiedUnpackedAndShared) {
  test::TempDir d{"vessel-image-test"};
  std::string layer = make_tar({{"bin/", ""}, {"bin/hello", "#!/bin/sh\necho hi\n"}, {"etc/", ""}, {"etc/motd", "welcome"}});
  auto oci = make_oci(layer);
  std::string tar = write(d.path + "/img.tar", oci.tar);
  std::vector<std::string> steps;
  auto r = import_image_archive(tar, d.path + "/store", [&](const ImportProgress& p) { steps.push_back(p.step); });
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->format, "oci-layout");
  ASSERT_EQ(r->layers.size(), 1u);
  EXPECT_EQ(r->layers[0], "sha256:" + oci.layer_hex);
  EXPECT_EQ(r->cmd, std::vector<std::string>{"/bin/sh"});
  EXPECT_TRUE(r->entrypoint.empty());
  EXPECT_EQ(r->workdir, "/w");
  EXPECT_EQ(*read_file(d.path + "/store/layers/" + oci.layer_hex + "/etc/motd"), "welcome");
  EXPECT_EQ(*sha256_file(d.path + "/store/blobs/sha256/" + oci.layer_hex), oci.layer_hex);
  EXPECT_NE(std::find(steps.begin(), steps.end(), "unpack"), steps.end());
  // A second import of the same layer does not unpack it again.
  steps.clear();
  ASSERT_TRUE(import_image_archive(tar, d.path + "/store", [&](const ImportProgress& p) { steps.push_back(p.step); }));
  EXPECT_EQ(std::find(steps.begin(), steps.end(), "unpack"), steps.end());
}

TEST(ImageImport, CorruptBlobIsRefused) {
  test::TempDir d{"vessel-image-test"};
  auto oci = make_oci(make_tar({{"f", "x"}}), true);
  auto r = import_image_archive(write(d.path + "/img.tar", oci.tar), d.path + "/store", [](const ImportProgress&) {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("corrupt"), std::string::npos) << r.error().to_string();
  EXPECT_FALSE(fs::exists(d.path + "/store/layers/" + oci.layer_hex));
}

TEST(ImageImport, DockerArchiveIsVerifiedAgainstDiffIds) {
  test::TempDir d{"vessel-image-test"};
  std::string layer = make_tar({{"hello.txt", "hello"}});
  std::string lhex = sha256_hex(layer);
  std::string config = R"({"config":{"Entrypoint":["/bin/echo"],"Cmd":["x"],"User":"app:staff"},"rootfs":{"type":"layers","diff_ids":["sha256:)" + lhex + "\"]}}";
  std::string manifest = R"([{"Config":"cfg.json","RepoTags":["localhost/t:latest"],"Layers":["abc/layer.tar"]}])";
  std::string tar = write(d.path + "/d.tar", make_tar({{"manifest.json", manifest}, {"cfg.json", config}, {"abc/", ""}, {"abc/layer.tar", layer}}));
  auto r = import_image_archive(tar, d.path + "/store", [](const ImportProgress&) {});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->format, "docker-archive");
  EXPECT_EQ(r->entrypoint, (std::vector<std::string>{"/bin/echo"}));  // kept apart: --entrypoint replaces one
  EXPECT_EQ(r->cmd, (std::vector<std::string>{"x"}));
  EXPECT_EQ(r->user, "app:staff");
  EXPECT_EQ(*read_file(d.path + "/store/layers/" + lhex + "/hello.txt"), "hello");

  std::string bad_config = R"({"rootfs":{"diff_ids":["sha256:)" + std::string(64, '0') + "\"]}}";
  std::string bad = write(d.path + "/bad.tar", make_tar({{"manifest.json", manifest}, {"cfg.json", bad_config}, {"abc/layer.tar", layer}}));
  auto refused = import_image_archive(bad, d.path + "/store2", [](const ImportProgress&) {});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().to_string().find("corrupt"), std::string::npos);
}

TEST(ImageImport, HostileArchivesAreRefused) {
  test::TempDir d{"vessel-image-test"};
  auto escape = import_image_archive(write(d.path + "/e.tar", make_tar({{"../../etc/evil", "x"}})), d.path + "/store",
                                     [](const ImportProgress&) {});
  ASSERT_FALSE(escape);
  EXPECT_NE(escape.error().to_string().find("escapes"), std::string::npos);
  auto neither = import_image_archive(write(d.path + "/n.tar", make_tar({{"readme", "x"}})), d.path + "/store",
                                      [](const ImportProgress&) {});
  ASSERT_FALSE(neither);
  EXPECT_FALSE(neither.error().hint().empty());
  auto not_tar = import_image_archive(write(d.path + "/x.tar", std::string(3000, 'z')), d.path + "/store",
                                      [](const ImportProgress&) {});
  EXPECT_FALSE(not_tar);
  // A layer whose entry climbs out of the layer directory.
  std::string layer = make_tar({{"../outside", "x"}});
  auto unpack = unpack_layer(write(d.path + "/l.tar", layer), d.path + "/layer");
  EXPECT_FALSE(unpack);
  EXPECT_FALSE(fs::exists(d.path + "/outside"));
}

// Documents of the wrong shape (a number where a string belongs, missing fields, wrong nesting)
// are errors that name the field; none throws (an exception here killed vesseld).
TEST(ImageImport, MalformedDocumentsAreErrorsNotExceptions) {
  test::TempDir d{"vessel-image-test"};
  std::string layer = make_tar({{"f", "x"}});
  std::string lhex = sha256_hex(layer);
  std::string good_config = R"({"rootfs":{"diff_ids":["sha256:)" + lhex + "\"]}}";
  std::string good_manifest = R"([{"Config":"cfg.json","Layers":["l.tar"]}])";
  struct Case {
    std::string manifest, config, says;
  };
  std::vector<Case> docker = {
      {R"([{"Config":5,"Layers":["l.tar"]}])", good_config, "manifest.json[0].Config: expected a string, got number"},
      {R"([{"Config":"cfg.json","Layers":[7]}])", good_config, "manifest.json[0].Layers[0]: expected a string"},
      {R"([{"Config":"cfg.json","Layers":{"a":"l.tar"}}])", good_config, "manifest.json[0].Layers: expected array, got object"},
      {R"([{"Config":"cfg.json"}])", good_config, "manifest.json[0].Layers: required field is missing"},
      {R"([{"Layers":["l.tar"]}])", good_config, "manifest.json[0].Config: required field is missing"},
      {R"({"Config":"cfg.json","Layers":["l.tar"]})", good_config, "manifest.json: expected an array of images, got object"},
      {R"([5])", good_config, "manifest.json[0]: expected an object, got number"},
      {R"([{"Config":"../cfg.json","Layers":["l.tar"]}])", good_config, "escapes"},
      {good_manifest, R"({"rootfs":"layers"})", "image config.rootfs: expected object, got string"},
      {good_manifest, R"({"rootfs":{"diff_ids":"sha256:x"}})", "image config.rootfs.diff_ids: expected array, got string"},
      {good_manifest, R"({"rootfs":{"diff_ids":[5]}})", "image config.rootfs.diff_ids[0]: expected a string"},
      {good_manifest, R"({"config":{"Cmd":"sh"},"rootfs":{"diff_ids":["sha256:)" + lhex + "\"]}}", "image config.config.Cmd: expected array"},
      {good_manifest, R"({"config":[1],"rootfs":{"diff_ids":["sha256:)" + lhex + "\"]}}", "image config.config: expected object"},
  };
  for (size_t i = 0; i < docker.size(); ++i) {
    std::string tar = write(fmt::format("{}/d{}.tar", d.path, i),
                            make_tar({{"manifest.json", docker[i].manifest}, {"cfg.json", docker[i].config}, {"l.tar", layer}}));
    auto r = import_image_archive(tar, d.path + "/store", [](const ImportProgress&) {});
    ASSERT_FALSE(r) << docker[i].manifest << " " << docker[i].config;
    EXPECT_EQ(r.error().errnum(), EINVAL) << r.error().to_string();
    EXPECT_NE(r.error().to_string().find(docker[i].says), std::string::npos) << r.error().to_string();
  }
  std::vector<Case> oci = {
      {R"({"manifests":[5]})", "", "index.json.manifests[0]: expected an object, got number"},
      {R"({"manifests":[{"digest":5}]})", "", "index.json.manifests[0].digest: expected a string, got number"},
      {R"({"manifests":{"digest":"x"}})", "", "index.json.manifests: expected array"},
      {R"({"schemaVersion":2})", "", "index.json.manifests: required field is missing"},
  };
  for (size_t i = 0; i < oci.size(); ++i) {
    std::string tar = write(fmt::format("{}/o{}.tar", d.path, i), make_tar({{"index.json", oci[i].manifest}}));
    auto r = import_image_archive(tar, d.path + "/store", [](const ImportProgress&) {});
    ASSERT_FALSE(r) << oci[i].manifest;
    EXPECT_NE(r.error().to_string().find(oci[i].says), std::string::npos) << r.error().to_string();
  }
  // The OCI manifest itself of the wrong shape.
  std::string manifest = R"({"config":"x","layers":[]})";
  std::string mhex = sha256_hex(manifest);
  std::string index = R"({"manifests":[{"digest":"sha256:)" + mhex + "\"}]}";
  auto r = import_image_archive(write(d.path + "/m.tar", make_tar({{"index.json", index}, {"blobs/sha256/" + mhex, manifest}})),
                                d.path + "/store", [](const ImportProgress&) {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("manifest.config: expected object, got string"), std::string::npos) << r.error().to_string();
}

// manifest.json, index.json and the config are read whole into memory: each is at most 4 MiB, a
// bigger one is refused before it is read (E2BIG, naming the file).
TEST(ImageImport, DocumentsOverFourMiBAreRefusedUnread) {
  test::TempDir d{"vessel-image-test"};
  std::string layer = make_tar({{"f", "x"}});
  std::string config = R"({"rootfs":{"diff_ids":["sha256:)" + sha256_hex(layer) + "\"]}}";
  std::string padded_manifest = R"([{"Config":"cfg.json","Layers":["l.tar"]}])" + std::string((4 << 20) + 1, ' ');
  auto big_manifest = import_image_archive(
      write(d.path + "/m.tar", make_tar({{"manifest.json", padded_manifest}, {"cfg.json", config}, {"l.tar", layer}})),
      d.path + "/store", [](const ImportProgress&) {});
  ASSERT_FALSE(big_manifest);
  EXPECT_EQ(big_manifest.error().errnum(), E2BIG) << big_manifest.error().to_string();
  EXPECT_NE(big_manifest.error().to_string().find("manifest.json"), std::string::npos) << big_manifest.error().to_string();
  std::string padded_config = config + std::string((4 << 20) + 1, ' ');
  auto big_config = import_image_archive(
      write(d.path + "/c.tar", make_tar({{"manifest.json", R"([{"Config":"cfg.json","Layers":["l.tar"]}])"},
                                         {"cfg.json", padded_config}, {"l.tar", layer}})),
      d.path + "/store", [](const ImportProgress&) {});
  ASSERT_FALSE(big_config);
  EXPECT_EQ(big_config.error().errnum(), E2BIG) << big_config.error().to_string();
  EXPECT_NE(big_config.error().to_string().find("cfg.json"), std::string::npos) << big_config.error().to_string();
  // At exactly 4 MiB the same manifest is read.
  std::string exact_manifest = R"([{"Config":"cfg.json","Layers":["l.tar"]}])";
  exact_manifest += std::string((4 << 20) - exact_manifest.size(), ' ');
  auto exact = import_image_archive(
      write(d.path + "/x.tar", make_tar({{"manifest.json", exact_manifest}, {"cfg.json", config}, {"l.tar", layer}})),
      d.path + "/store", [](const ImportProgress&) {});
  EXPECT_TRUE(exact) << exact.error().to_string();
}

TEST(ImageStore, ImportListInspectRemove) {
  test::TempDir d{"vessel-image-test"};
  auto store = std::move(*Store::open(d.path + "/db"));
  ImageStore images(*store, d.path + "/images");
  auto oci = make_oci(make_tar({{"f", "x"}}));
  std::string tar = write(d.path + "/img.tar", oci.tar);
  auto j = images.import_archive("bb", tar, [](const ImportProgress&) {});
  ASSERT_TRUE(j) << j.error().to_string();
  EXPECT_EQ((*j)["type"], "container");
  EXPECT_EQ(images.import_archive("bb", tar, [](const ImportProgress&) {}).error().errnum(), EEXIST);
  EXPECT_EQ(images.list()->size(), 1u);
  InstanceSpec spec;
  spec.name = "c";
  spec.image = "bb";
  auto boot = images.resolve(spec);
  ASSERT_TRUE(boot) << boot.error().to_string();
  ASSERT_EQ(boot->layers.size(), 1u);
  EXPECT_EQ(boot->image_env, (std::vector<std::string>{"PATH=/bin", "A=1"}));
  // In use: refused.
  ASSERT_TRUE(store->insert_instance(InstanceRow{"c", "container", R"({"name":"c","image":"bb"})", "created"}));
  EXPECT_EQ(images.remove("bb").error().errnum(), EBUSY);
  ASSERT_TRUE(store->delete_instance("c"));
  ASSERT_TRUE(images.remove("bb"));
  EXPECT_FALSE(fs::exists(d.path + "/images/layers/" + oci.layer_hex));
  EXPECT_EQ(images.inspect("bb").error().errnum(), ENOENT);
  spec.image = "missing";
  EXPECT_EQ(images.resolve(spec).error().errnum(), ENOENT);
}

}  // namespace
}  // namespace vessel::daemon
