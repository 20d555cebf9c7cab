#include "daemon/images/archive_import.h"

#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "base/fd.h"
#include "files/confined_root.h"
#include "files/entry_path.h"
#include "daemon/images/image_manifest.h"
#include "daemon/images/image_store.h"
#include "daemon/images/stored_layer.h"
#include "daemon/images/sha256.h"
#include "daemon/images/tar_reader.h"

namespace vessel::daemon {

using files::ConfinedRoot;
using files::parse_entry_path;
using files::remove_at;

namespace fs = std::filesystem;

namespace {

constexpr off_t kMaxArchiveDocument = 4 << 20;  // manifest, index, config

// Extracts the regular files and directories of the outer archive (the image tarball) inside
// `root`; links and devices have no place in it and are skipped, so `root` holds nothing else.
Result<void> extract_outer(const std::string& tarball, const ConfinedRoot& root) {
  auto a = TRY(open_tar(tarball));
  archive_entry* entry;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    const char* raw = archive_entry_pathname(entry);
    auto path = TRY(parse_entry_path(raw ? raw : ""));
    if (path.name.empty()) continue;
    auto type = archive_entry_filetype(entry);
    if (type == AE_IFDIR) {
      TRY(root.open_dir(path.full(), true));
      continue;
    }
    if (type != AE_IFREG) continue;
    Fd dir = TRY(root.open_dir(path.parent, true));
    TRY(remove_at(dir.get(), path.name));
    Fd out =
        TRY_CTX(Fd::openat(dir.get(), path.name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600),
                "extract {}", path.full());
    if (archive_read_data_into_fd(a.get(), out.get()) != ARCHIVE_OK)
      return fail(EIO, "cannot extract {} from {}: {}", path.full(), tarball,
                  archive_error(a.get()));
  }
  if (rc != ARCHIVE_EOF)
    return fail(EINVAL, "{} is not a valid tar archive: {}", tarball, archive_error(a.get()));
  return {};
}

// A JSON document of the archive: a regular file of at most kMaxArchiveDocument bytes.
Result<std::string> read_document(const ConfinedRoot& root, const std::string& rel) {
  Fd fd = TRY(root.open(rel, O_RDONLY | O_NOFOLLOW));
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return fail_errno("stat {}", rel);
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, "{} in the archive is not a file", rel);
  if (st.st_size > kMaxArchiveDocument)
    return fail(E2BIG, "{} in the archive is larger than {} bytes", rel, kMaxArchiveDocument);
  std::string out(static_cast<size_t>(st.st_size), '\0');
  TRY_CTX(pread_exact(fd.get(), out.data(), out.size(), 0), "read {}", rel);
  return out;
}

Result<void> verify(const std::string& path, const std::string& hex) {
  auto actual = TRY(sha256_file(path));
  if (actual != hex)
    return fail(EINVAL, "{} has sha256 {} but is named {}: the archive is corrupt",
                fs::path(path).filename().string(), actual, hex);
  return {};
}

struct StagedLayer {
  std::string path;  // inside tmp
  std::string hex;   // sha256 of the (compressed) blob
};

struct Staged {
  ImportedImage image;
  std::string config_text;
  std::vector<StagedLayer> layers;  // lowest first, each verified
};

}  // namespace

void apply_image_config(const ImageConfig& config, ImportedImage& image) {
  image.entrypoint = config.entrypoint;
  image.cmd = config.cmd;
  image.env = config.env;
  image.workdir = config.workdir;
  image.user = config.user;
  image.healthcheck = config.healthcheck;
  image.volumes = config.volumes;
}

namespace {

Result<Staged> stage_oci(const ConfinedRoot& root, const std::string& tmp) {
  Staged s;
  s.image.format = "oci-layout";
  auto index = TRY(parse_oci_index(TRY(read_document(root, "index.json"))));
  s.image.archive_ref = index.ref_name;
  const std::string& mhex = index.manifests[0];
  TRY_CTX(verify(tmp + "/blobs/sha256/" + mhex, mhex), "manifest");
  s.image.manifest_digest = "sha256:" + mhex;
  auto manifest = TRY(parse_oci_manifest(TRY(read_document(root, "blobs/sha256/" + mhex))));
  TRY_CTX(verify(tmp + "/blobs/sha256/" + manifest.config, manifest.config), "config");
  s.config_text = TRY(read_document(root, "blobs/sha256/" + manifest.config));
  apply_image_config(TRY(parse_image_config(s.config_text)), s.image);
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    std::string path = tmp + "/blobs/sha256/" + manifest.layers[i];
    TRY_CTX(verify(path, manifest.layers[i]), "layer {}", i);
    s.layers.push_back({path, manifest.layers[i]});
  }
  return s;
}

// Layers are verified against the config's diff_ids (sha256 of each uncompressed tar).
Result<Staged> stage_docker(const ConfinedRoot& root, const std::string& tmp) {
  Staged s;
  s.image.format = "docker-archive";
  auto text = TRY(read_document(root, "manifest.json"));
  s.image.manifest_digest = "sha256:" + sha256_hex(text);
  auto manifest = TRY(parse_docker_manifest(text));
  s.image.archive_ref = manifest.repo_tag;
  auto config_path = TRY_CTX(parse_entry_path(manifest.config), "manifest.json[0].Config");
  s.config_text = TRY(read_document(root, config_path.full()));
  auto config = TRY(parse_image_config(s.config_text));
  apply_image_config(config, s.image);
  if (config.diff_ids.size() != manifest.layers.size())
    return fail(EINVAL, "manifest.json has {} layers but the config lists {} diff_ids",
                manifest.layers.size(), config.diff_ids.size());
  std::map<std::string, std::string> verified;  // archive path -> the hex it was verified as
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    auto rel = TRY_CTX(parse_entry_path(manifest.layers[i]), "manifest.json[0].Layers[{}]", i);
    const std::string& hex = config.diff_ids[i];
    auto [it, fresh] = verified.emplace(rel.full(), hex);
    if (!fresh && it->second != hex)
      return fail(EINVAL, "manifest.json lists {} as two different layers", rel.full());
    if (fresh) TRY_CTX(verify(tmp + "/" + rel.full(), hex), "layer {}", i);
    s.layers.push_back({tmp + "/" + rel.full(), hex});
  }
  return s;
}

// Moves each verified blob into the store and unpacks the layers the store lacks.
Result<void> store_layers(const std::string& store, Staged& s,
                          const std::function<void(const ImportProgress&)>& progress) {
  std::error_code ec;
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const auto& [path, hex] = s.layers[i];
    progress({"verify", i, s.layers.size()});
    std::string blob = store + "/blobs/sha256/" + hex;
    if (!fs::exists(blob, ec)) {
      fs::rename(path, blob, ec);  // a blob listed twice is moved once
      if (ec) return fail(ec.value(), "store blob {}: {}", hex, ec.message());
    }
    s.image.size += fs::file_size(blob, ec);
    if (!fs::exists(store + "/layers/" + hex, ec)) progress({"unpack", i, s.layers.size()});
    TRY_CTX(unpack_stored_layer(store, hex), "unpack layer {}", i);
    s.image.layers.push_back("sha256:" + hex);
  }
  return {};
}

}  // namespace

Result<ImportedImage> import_image_archive(
    const std::string& tarball, const std::string& store,
    const std::function<void(const ImportProgress&)>& progress, const ArchiveNameCheck& check_name) {
  std::error_code ec;
  for (const char* sub : {"/blobs/sha256", "/layers", "/tmp"})
    fs::create_directories(store + sub, ec);
  std::string tmp =
      fmt::format("{}/tmp/import-{}-{}", store, ::getpid(),
                  std::hash<std::string>{}(tarball + std::to_string(::time(nullptr))));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return fail(ec.value(), "create {}: {}", tmp, ec.message());
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{tmp};
  progress({"read", 0, 1});
  auto root = TRY(ConfinedRoot::open(tmp));
  TRY_CTX(extract_outer(tarball, root), "import {}", tarball);
  // tmp holds only directories and regular files (extract_outer), so paths in it are plain.
  Staged staged;
  if (root.open("index.json", O_PATH | O_NOFOLLOW)) {
    staged = TRY(stage_oci(root, tmp));
  } else if (root.open("manifest.json", O_PATH | O_NOFOLLOW)) {
    staged = TRY(stage_docker(root, tmp));
  } else {
    return Unexpected(
        Error(EINVAL,
              fmt::format(
                  "{} is neither a docker-archive (manifest.json) nor an OCI layout (index.json)",
                  tarball))
            .with_hint("make one with `podman save -o FILE IMAGE` or `skopeo copy`"));
  }
  if (check_name) TRY(check_name(staged.image));
  TRY(store_layers(store, staged, progress));
  staged.image.config_hex = sha256_hex(staged.config_text);
  TRY(store_blob_text(store, staged.image.config_hex, staged.config_text));
  progress({"done", staged.layers.size(), staged.layers.size()});
  return staged.image;
}

}  // namespace vessel::daemon
